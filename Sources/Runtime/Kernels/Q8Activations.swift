import CKernels
import GGUF

/// Activation rows quantised to 8 bits for the integer kernels
/// (CKernels/QuantizedDot.c): the weight types they cover keep their blocks
/// as stored and multiply them with these bytes.
struct Q8Activations {
    /// How many inputs share a scale: the K-quant layouts take one per
    /// super-block, so that their integer sub-block scales apply in integers.
    enum Grouping {
        /// d per block of 32, with d·Σq (F32) per block.
        case blocks
        /// d per super-block of 256, with Σq (Int16) per 16 inputs and per 32.
        case superBlocks

        var inputs: Int { self == .blocks ? 32 : 256 }
    }

    let grouping: Grouping
    let q: UnsafeMutablePointer<Int8>
    /// [rows, inputs / grouping.inputs]
    let scale: UnsafeMutablePointer<Float>
    /// F32 d·Σq per block of 32 (blocks), or per super-block WAFER_SUPER_SUMS Int16 Σq: per 16 inputs, then per 32.
    private let sums: UnsafeMutableRawPointer
    /// Blocks of 32 per row.
    let blocks: Int

    var sum: UnsafeMutablePointer<Float> { sums.assumingMemoryBound(to: Float.self) }
    var integerSums: UnsafeMutablePointer<Int16> { sums.assumingMemoryBound(to: Int16.self) }
    static let integerSumsPerSuperBlock = Int(WAFER_SUPER_SUMS)

    static func supports(_ type: GGMLType) -> Bool { type == .q4_1 || type == .q8_0 }

    /// The grouping the kernels for `type`'s repacked layout take.
    static func grouping(forRepacked type: GGMLType) -> Grouping {
        switch Repacked.layout(type) {
        case .q4Kx8, .q5Kx8, .q6Kx8: .superBlocks
        default: .blocks
        }
    }

    /// Bytes needed for `rows` rows of `inputs` values.
    static func bytes(rows: Int, inputs: Int, grouping: Grouping) -> Int {
        let scales = rows * (inputs / grouping.inputs) * MemoryLayout<Float>.size
        return scales + sumBytes(rows: rows, inputs: inputs, grouping: grouping) + rows * inputs
    }

    private static func sumBytes(rows: Int, inputs: Int, grouping: Grouping) -> Int {
        switch grouping {
        case .blocks: rows * (inputs / 32) * MemoryLayout<Float>.size
        case .superBlocks: rows * (inputs / 256) * integerSumsPerSuperBlock * MemoryLayout<Int16>.size
        }
    }

    /// Quantises `rows` rows of `x` into `buffer` (at least `bytes(rows:inputs:grouping:)` long),
    /// the rows split over the worker pool when there are several (each row alone, so
    /// the split does not change a row's bytes).
    init(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, grouping: Grouping, buffer: UnsafeMutableRawPointer) {
        let blocks = inputs / 32, scales = rows * (inputs / grouping.inputs)
        self.grouping = grouping
        self.blocks = blocks
        scale = buffer.bindMemory(to: Float.self, capacity: scales)
        sums = buffer + scales * MemoryLayout<Float>.size
        if grouping == .blocks {
            sums.bindMemory(to: Float.self, capacity: rows * blocks)
        } else {
            sums.bindMemory(to: Int16.self, capacity: rows * (inputs / 256) * Self.integerSumsPerSuperBlock)
        }
        q = (sums + Self.sumBytes(rows: rows, inputs: inputs, grouping: grouping)).bindMemory(to: Int8.self, capacity: rows * inputs)
        let job = Quantize(x: x, rows: rows, inputs: inputs, into: self)
        if rows == 1 { job.run(part: 0, of: 1) } else { WorkerPool.shared.run(job) }
    }

    /// The scale of row `row`'s input `input`.
    func scale(row: Int, input: Int) -> Float {
        let perRow = blocks * 32 / grouping.inputs
        return scale[row * perRow + input / grouping.inputs]
    }

    private struct Quantize: PoolJob {
        let x: UnsafePointer<Float>, rows: Int, inputs: Int, into: Q8Activations

        func run(part: Int, of parts: Int) {
            let range = WorkerPool.slice(rows, part: part, of: parts), blocks = into.blocks
            guard !range.isEmpty else { return }
            let (x, q) = (x + range.lowerBound * inputs, into.q + range.lowerBound * inputs)
            switch into.grouping {
            case .blocks:
                wafer_quantize_rows_q8(x, Int32(range.count), Int32(blocks), q, into.scale + range.lowerBound * blocks,
                                       into.sum + range.lowerBound * blocks)
            case .superBlocks:
                let supers = inputs / 256
                wafer_quantize_rows_q8_super(x, Int32(range.count), Int32(supers), q, into.scale + range.lowerBound * supers,
                                             into.integerSums + range.lowerBound * supers * Q8Activations.integerSumsPerSuperBlock)
            }
        }
    }

    /// y[r·ldy + o] = W[o] · row r for o in `outputs`.
    func multiply(_ type: GGMLType, weights: UnsafeRawPointer, rowBytes: Int, outputs: Range<Int>, rows: Int,
                  y: UnsafeMutablePointer<Float>, ldy: Int) {
        precondition(grouping == .blocks, "the per-row kernels take blocks of 32")
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

    /// The same for weights repacked (`Repacked`), quantised with `grouping(forRepacked: type)`;
    /// `outputs` starts and ends at multiples of 8.
    func multiplyRepacked(_ type: GGMLType, _ packed: UnsafeRawPointer, outputs: Range<Int>, rows: Int,
                          y: UnsafeMutablePointer<Float>, ldy: Int) {
        precondition(grouping == Self.grouping(forRepacked: type), "\(type) takes other activations")
        let w = packed.assumingMemoryBound(to: UInt8.self), n = Int32(blocks), r = Int32(rows), supers = Int32(blocks / 8)
        let (first, last) = (Int32(outputs.lowerBound / 8), Int32(outputs.upperBound / 8))
        switch Repacked.layout(type) {
        case .q4x8 where type == .q4_0: wafer_q40x8_rows(w, n, first, last, q, scale, sum, r, y, ldy)
        case .q4x8: wafer_q4x8_rows(w, n, first, last, q, scale, sum, r, y, ldy)
        case .q4Kx8: wafer_q4kx8_rows(w, supers, first, last, q, scale, integerSums, r, y, ldy)
        case .q5Kx8: wafer_q5kx8_rows(w, supers, first, last, q, scale, integerSums, r, y, ldy)
        case .q50x8: wafer_q50x8_rows(w, n, first, last, q, scale, sum, r, y, ldy)
        case .q51x8: wafer_q51x8_rows(w, n, first, last, q, scale, sum, r, y, ldy)
        case .q6Kx8: wafer_q6kx8_rows(w, supers, first, last, q, scale, integerSums, r, y, ldy)
        case .q8x8: wafer_q8x8_rows(w, n, first, last, q, scale, r, y, ldy)
        case nil: preconditionFailure("\(type) is not repacked")
        }
    }
}
