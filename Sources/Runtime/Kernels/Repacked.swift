import GGUF

/// The eight-row layouts of the integer kernels, by weight type. Each keeps
/// the file's values exactly and its bit widths (the K-quants add an eighth
/// of a bit for their unpacked 6-bit scales): the bytes a decode step reads
/// are the file's.
enum Repacked {
    enum Layout { case q4x8, q4Kx8, q5Kx8, q50x8, q51x8, q6Kx8, q8x8 }

    static func layout(_ type: GGMLType) -> Layout? {
        switch type {
        case .q4_0, .q4_1: .q4x8
        case .q4_K: .q4Kx8
        case .q5_K: .q5Kx8
        case .q5_0: .q50x8
        case .q5_1: .q51x8
        case .q6_K: .q6Kx8
        case .q8_0: .q8x8
        default: nil
        }
    }

    static func supports(_ type: GGMLType) -> Bool { layout(type) != nil }

    /// A new buffer of `outputs` rows (a multiple of 8) interleaved; the
    /// groups of eight rows are split over the worker pool (loading a model
    /// is mostly this).
    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer {
        precondition(supports(type), "\(type) is not repacked")
        let count = bytes(type, inputs: inputs, outputs: outputs)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        packed.initializeMemory(as: UInt8.self, repeating: 0, count: count)  // the packers OR bits in
        WorkerPool.shared.run(RepackJob(type: type, source: source, packed: packed, groups: outputs / 8, inputs: inputs))
        return packed
    }

    private struct RepackJob: PoolJob {
        let type: GGMLType, source: UnsafeRawPointer, packed: UnsafeMutableRawPointer, groups: Int, inputs: Int

        func run(part: Int, of parts: Int) {
            let groups = WorkerPool.slice(groups, part: part, of: parts)
            switch layout(type) {
            case .q4x8: Q4x8.repack(type, source, into: packed, groups: groups, inputs: inputs)
            case .q4Kx8, .q5Kx8: MinimumKx8.repack(type, source, into: packed, groups: groups, inputs: inputs)
            case .q50x8, .q51x8: FiveBitx8.repack(type, source, into: packed, groups: groups, inputs: inputs)
            case .q6Kx8: Q6Kx8.repack(source, into: packed, groups: groups, inputs: inputs)
            case .q8x8: Q8x8.repack(source, into: packed, groups: groups, inputs: inputs)
            case nil: break
            }
        }
    }

    /// Bytes of a repacked matrix.
    static func bytes(_ type: GGMLType, inputs: Int, outputs: Int) -> Int {
        switch layout(type) {
        case .q4x8: Q4x8.bytes(type, inputs: inputs, outputs: outputs)
        case .q4Kx8, .q5Kx8: MinimumKx8.bytes(type, inputs: inputs, outputs: outputs)
        case .q50x8, .q51x8: FiveBitx8.bytes(type, inputs: inputs, outputs: outputs)
        case .q6Kx8: Q6Kx8.bytes(inputs: inputs, outputs: outputs)
        case .q8x8: Q8x8.bytes(inputs: inputs, outputs: outputs)
        case nil: 0
        }
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ type: GGMLType, _ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        switch layout(type) {
        case .q4x8: Q4x8.dequantize(type, packed, blocks: blocks, row: row, into: out)
        case .q4Kx8, .q5Kx8: MinimumKx8.dequantize(type, packed, blocks: blocks, row: row, into: out)
        case .q50x8, .q51x8: FiveBitx8.dequantize(type, packed, blocks: blocks, row: row, into: out)
        case .q6Kx8: Q6Kx8.dequantize(packed, blocks: blocks, row: row, into: out)
        case .q8x8: Q8x8.dequantize(packed, blocks: blocks, row: row, into: out)
        case nil: preconditionFailure("\(type) is not repacked")
        }
    }

    /// Row `row` of a layout of blocks of 32 (`Q4x8`, `FiveBitx8`): d[8] f16,
    /// then m[8] f16 when `minimum` (w = d·q + m; otherwise w = d·(q - offset)),
    /// then the values, row j's value of element e being `value(values, j, e)`.
    static func dequantizeBlocks(_ packed: UnsafeRawPointer, blocks: Int, blockBytes: Int, minimum: Bool, offset: Int, row: Int,
                                 into out: UnsafeMutablePointer<Float>, value: (UnsafeRawPointer, Int, Int) -> Int) {
        let g = row / 8, j = row % 8
        for b in 0..<blocks {
            let block = packed + (g * blocks + b) * blockBytes, values = block + (minimum ? 32 : 16)
            let d = Dequantize.half(block, 2 * j)
            if minimum {
                let m = Dequantize.half(block, 16 + 2 * j)
                for e in 0..<32 { out[b * 32 + e] = Float(value(values, j, e)) * d + m }
            } else {
                for e in 0..<32 { out[b * 32 + e] = Float(value(values, j, e) - offset) * d }
            }
        }
    }
}
