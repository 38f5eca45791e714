import GGUF

/// The eight-row layouts of the integer kernels, by weight type: 4-bit with
/// a minimum (`Q4x8`), 5-bit with a minimum (`Q5x8`), signed bytes (`Q8x8`).
enum Repacked {
    static func supports(_ type: GGMLType) -> Bool { Q4x8.supports(type) || Q5x8.supports(type) || Q8x8.supports(type) }

    /// A new buffer of `outputs` rows (a multiple of 8) interleaved; nil if this tensor cannot be (see `Q4x8.repack`).
    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer? {
        if Q4x8.supports(type) { return Q4x8.repack(type, source, outputs: outputs, inputs: inputs) }
        if Q5x8.supports(type) { return Q5x8.repack(type, source, outputs: outputs, inputs: inputs) }
        return Q8x8.repack(type, source, outputs: outputs, inputs: inputs)
    }

    static func groupBlockBytes(_ type: GGMLType) -> Int {
        Q4x8.supports(type) ? Q4x8.groupBlockBytes(type) : Q5x8.supports(type) ? Q5x8.groupBlockBytes(type) : Q8x8.groupBlockBytes(type)
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ type: GGMLType, _ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        if Q4x8.supports(type) {
            Q4x8.dequantize(type, packed, blocks: blocks, row: row, into: out)
        } else if Q5x8.supports(type) {
            Q5x8.dequantize(type, packed, blocks: blocks, row: row, into: out)
        } else {
            Q8x8.dequantize(type, packed, blocks: blocks, row: row, into: out)
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
