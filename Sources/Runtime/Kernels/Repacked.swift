import GGUF

/// The eight-row layouts of the integer kernels, by weight type. Each keeps
/// the file's values exactly and, but for Q5_1/Q5_K (a byte per value), its
/// bit width: the bytes a decode step reads are the file's.
enum Repacked {
    enum Layout { case q4x8, q4Kx8, q5x8, q50x8, q6Kx8, q8x8 }

    static func layout(_ type: GGMLType) -> Layout? {
        switch type {
        case .q4_0, .q4_1: .q4x8
        case .q4_K: .q4Kx8
        case .q5_1, .q5_K: .q5x8
        case .q5_0: .q50x8
        case .q6_K: .q6Kx8
        case .q8_0: .q8x8
        default: nil
        }
    }

    static func supports(_ type: GGMLType) -> Bool { layout(type) != nil }

    /// A new buffer of `outputs` rows (a multiple of 8) interleaved; nil if this tensor cannot be (see `Q4x8.repack`).
    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer? {
        switch layout(type) {
        case .q4x8: Q4x8.repack(type, source, outputs: outputs, inputs: inputs)
        case .q4Kx8: Q4Kx8.repack(source, outputs: outputs, inputs: inputs)
        case .q5x8: Q5x8.repack(type, source, outputs: outputs, inputs: inputs)
        case .q50x8: Q50x8.repack(source, outputs: outputs, inputs: inputs)
        case .q6Kx8: Q6Kx8.repack(source, outputs: outputs, inputs: inputs)
        case .q8x8: Q8x8.repack(source, outputs: outputs, inputs: inputs)
        case nil: nil
        }
    }

    /// Bytes of a repacked matrix.
    static func bytes(_ type: GGMLType, inputs: Int, outputs: Int) -> Int {
        switch layout(type) {
        case .q4x8: Q4x8.bytes(inputs: inputs, outputs: outputs)
        case .q4Kx8: Q4Kx8.bytes(inputs: inputs, outputs: outputs)
        case .q5x8: Q5x8.groupBlockBytes(type) * (inputs / 32) * (outputs / 8)
        case .q50x8: Q50x8.bytes(inputs: inputs, outputs: outputs)
        case .q6Kx8: Q6Kx8.bytes(inputs: inputs, outputs: outputs)
        case .q8x8: Q8x8.bytes(inputs: inputs, outputs: outputs)
        case nil: 0
        }
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ type: GGMLType, _ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        switch layout(type) {
        case .q4x8: Q4x8.dequantize(packed, blocks: blocks, row: row, into: out)
        case .q4Kx8: Q4Kx8.dequantize(packed, blocks: blocks, row: row, into: out)
        case .q5x8: Q5x8.dequantize(type, packed, blocks: blocks, row: row, into: out)
        case .q50x8: Q50x8.dequantize(packed, blocks: blocks, row: row, into: out)
        case .q6Kx8: Q6Kx8.dequantize(packed, blocks: blocks, row: row, into: out)
        case .q8x8: Q8x8.dequantize(packed, blocks: blocks, row: row, into: out)
        case nil: preconditionFailure("\(type) is not repacked")
        }
    }
}

/// What `Q4x8` and `Q5x8` share: blocks stored as w = d·q + m, with d[8] and
/// m[8] first (F16, or F32 when `wide`), then the values.
enum MinimumScales {
    /// Row `j`'s d and m in a packed block.
    static func load(_ block: UnsafeRawPointer, row j: Int, wide: Bool) -> (d: Float, m: Float) {
        wide ? (block.load(fromByteOffset: 4 * j, as: Float.self), block.load(fromByteOffset: 32 + 4 * j, as: Float.self))
             : (Dequantize.half(block, 2 * j), Dequantize.half(block, 16 + 2 * j))
    }

    /// A K-quant super-block's sub-block `sub` (Q4_K, Q5_K: d, dmin F16, then 12 bytes
    /// of 6-bit scales and mins) as row `j`'s F32 d = d·sc and m = -(dmin·min), both exact.
    static func storeK(_ superBlock: UnsafeRawPointer, sub: Int, into out: UnsafeMutableRawPointer, row j: Int) {
        let (scale, minimum) = Dequantize.scaleMin(superBlock + 4, sub)
        out.storeBytes(of: Dequantize.half(superBlock, 0) * Float(scale), toByteOffset: 4 * j, as: Float.self)
        out.storeBytes(of: -(Dequantize.half(superBlock, 2) * Float(minimum)), toByteOffset: 32 + 4 * j, as: Float.self)
    }

    /// Row `row` as F32: d·q + m, with `value(block, j, e)` giving row j's q for element e.
    static func dequantize(_ packed: UnsafeRawPointer, blocks: Int, groupBlockBytes bytes: Int, wide: Bool, row: Int,
                           into out: UnsafeMutablePointer<Float>, value: (UnsafeRawPointer, Int, Int) -> UInt8) {
        let g = row / 8, j = row % 8
        for b in 0..<blocks {
            let block = packed + (g * blocks + b) * bytes
            let (d, m) = load(block, row: j, wide: wide)
            for e in 0..<32 { out[b * 32 + e] = Float(value(block, j, e)) * d + m }
        }
    }
}
