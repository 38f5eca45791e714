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
