import CBLAS

/// OpenBLAS's sgemm does not compute a row the same way wherever it sits in
/// the call: tail rows of a partial micro-kernel tile take another path, and
/// within a full tile the two 6-row halves differ (measured on this machine,
/// one thread: a row agrees bit for bit only at the same position modulo 12
/// in a call whose row count is a multiple of 12). So each sequence's prompt
/// rows get their own block of rows, with row p of the sequence at position
/// p mod tile, padded with zero rows to whole tiles: its value then no longer
/// depends on chunking or on the other sequences. The tile is probed at
/// start-up, not assumed; if none works, prompt rows use our own row kernels.
enum GemmTile {
    /// Rows per sgemm call are padded to a multiple of this; nil: do not use sgemm.
    static let rows: Int? = {
        openblas_set_num_threads(1)  // our pool splits the work; OpenBLAS's own workers spin and fight it
        return probe(inputs: 576, outputs: 288)
    }()

    static func padded(_ rows: Int) -> Int {
        guard let tile = Self.rows else { return rows }
        return (rows + tile - 1) / tile * tile
    }

    /// The smallest tile t for which every row of calls of t, 2t or 3t rows
    /// starting at a multiple of t equals the same row computed in one call
    /// of 192 rows.
    static func probe(inputs k: Int, outputs n: Int) -> Int? {
        let total = 96
        var generator = ProbeNumbers()
        let x = (0..<2 * total * k).map { _ in generator.next() }
        let w = (0..<n * k).map { _ in generator.next() }
        func gemm(rowsFrom start: Int, count m: Int) -> [Float] {
            var y = [Float](repeating: 0, count: m * n)
            x.withUnsafeBufferPointer { xs in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1,
                            xs.baseAddress! + start * k, Int32(k), w, Int32(k), 0, &y, Int32(n))
            }
            return y
        }
        // Row i of x sits at position i here and at i - start below.
        let reference = gemm(rowsFrom: 0, count: 2 * total)
        for tile in [4, 6, 8, 12, 16, 24, 32, 48] {
            var ok = true
            for multiple in 1...3 where tile * multiple <= total && ok {
                for start in [0, tile, 2 * tile] where start + tile * multiple <= 2 * total {
                    let m = tile * multiple
                    if gemm(rowsFrom: start, count: m) != Array(reference[start * n..<(start + m) * n]) { ok = false; break }
                }
            }
            if ok { return tile }
        }
        return nil
    }

    /// Deterministic values in [-1, 1) (a linear congruential sequence).
    struct ProbeNumbers {
        var state: UInt32 = 12345
        mutating func next() -> Float {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(state >> 8) / Float(1 << 23) - 1
        }
    }
}
