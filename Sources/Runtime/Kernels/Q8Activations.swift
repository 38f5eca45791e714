import CKernels
import GGUF

/// Activation rows quantised to 8 bits per block of 32 for the integer decode
/// kernels (CKernels/QuantizedDot.c): the weight types they cover keep their
/// blocks as stored and multiply them with these bytes.
struct Q8Activations {
    let q: UnsafeMutablePointer<Int8>
    let scale: UnsafeMutablePointer<Float>
    let sum: UnsafeMutablePointer<Float>
    let blocks: Int

    static func supports(_ type: GGMLType) -> Bool { type == .q4_1 || type == .q8_0 }

    /// Bytes needed for `rows` rows of `inputs` values.
    static func bytes(rows: Int, inputs: Int) -> Int { rows * (inputs + 2 * (inputs / 32) * MemoryLayout<Float>.size) }

    /// Quantises `rows` rows of `x` into `buffer` (at least `bytes(rows:inputs:)` long),
    /// the rows split over the worker pool when there are several (each row alone, so
    /// the split does not change a row's bytes).
    init(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, buffer: UnsafeMutableRawPointer) {
        let blocks = inputs / 32
        self.blocks = blocks
        scale = buffer.bindMemory(to: Float.self, capacity: 2 * rows * blocks)
        sum = scale + rows * blocks
        q = (buffer + 2 * rows * blocks * MemoryLayout<Float>.size).bindMemory(to: Int8.self, capacity: rows * inputs)
        let job = Quantize(x: x, rows: rows, inputs: inputs, into: self)
        if rows == 1 { job.run(part: 0, of: 1) } else { WorkerPool.shared.run(job) }
    }

    private struct Quantize: PoolJob {
        let x: UnsafePointer<Float>, rows: Int, inputs: Int, into: Q8Activations

        func run(part: Int, of parts: Int) {
            let range = WorkerPool.slice(rows, part: part, of: parts), blocks = into.blocks
            guard !range.isEmpty else { return }
            wafer_quantize_rows_q8(x + range.lowerBound * inputs, Int32(range.count), Int32(blocks), into.q + range.lowerBound * inputs,
                                   into.scale + range.lowerBound * blocks, into.sum + range.lowerBound * blocks)
        }
    }

    /// y[r·ldy + o] = W[o] · row r for o in `outputs`.
    func multiply(_ type: GGMLType, weights: UnsafeRawPointer, rowBytes: Int, outputs: Range<Int>, rows: Int,
                  y: UnsafeMutablePointer<Float>, ldy: Int) {
        let w = weights.assumingMemoryBound(to: UInt8.self)
        switch type {
        case .q4_1:
            wafer_q4_1_rows(w, rowBytes, Int32(blocks), Int32(outputs.lowerBound), Int32(outputs.upperBound),
                            q, scale, sum, Int32(rows), y, ldy)
        case .q8_0:
            wafer_q8_0_rows(w, rowBytes, Int32(blocks), Int32(outputs.lowerBound), Int32(outputs.upperBound),
                            q, scale, Int32(rows), y, ldy)
        default:
            preconditionFailure("no integer kernel for \(type)")
        }
    }

    /// The same for weights repacked (`Repacked`); `outputs` starts and ends at multiples of 8.
    func multiplyRepacked(_ type: GGMLType, _ packed: UnsafeRawPointer, outputs: Range<Int>, rows: Int,
                          y: UnsafeMutablePointer<Float>, ldy: Int) {
        let w = packed.assumingMemoryBound(to: UInt8.self), n = Int32(blocks), r = Int32(rows)
        let (first, last) = (Int32(outputs.lowerBound / 8), Int32(outputs.upperBound / 8))
        switch Repacked.layout(type) {
        case .q4x8: wafer_q4x8_rows(w, n, first, last, q, scale, sum, r, y, ldy)
        case .q4Kx8: wafer_q4kx8_rows(w, n, first, last, q, scale, sum, r, y, ldy)
        case .q5x8: wafer_q5x8_rows(w, n, Q5x8.wideScales(type) ? 1 : 0, first, last, q, scale, sum, r, y, ldy)
        case .q50x8: wafer_q50x8_rows(w, n, first, last, q, scale, r, y, ldy)
        case .q6Kx8: wafer_q6kx8_rows(w, n, first, last, q, scale, r, y, ldy)
        case .q8x8: wafer_q8x8_rows(w, n, first, last, q, scale, r, y, ldy)
        case nil: preconditionFailure("\(type) is not repacked")
        }
    }
}
