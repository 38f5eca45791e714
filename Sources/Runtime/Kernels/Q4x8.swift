import GGUF

/// 4-bit weights (Q4_0, Q4_1) repacked at load, eight rows interleaved, for
/// the integer kernel (`wafer_q4x8_rows`). Every 32 inputs of a row are
/// stored as w = d·q + m with q in 0...15; per group of eight rows and block
/// of 32 inputs:
///
///     d[8] f16 | m[8] f16 | 4 chunks × 32 bytes
///
/// 160 bytes, as many as eight Q4_1 blocks (Q4_0's m = -8d is exact in F16).
/// Byte 4j+i of chunk u holds row j's element 4u+i in its low nibble and
/// element 16+4u+i in its high nibble: one 32-bit lane per row, so four
/// activation bytes broadcast against a chunk multiply all eight rows.
/// Dequantising the packed form gives the original values bit for bit.
enum Q4x8 {
    static let blockBytes = 160

    static func bytes(inputs: Int, outputs: Int) -> Int { outputs / 8 * (inputs / 32) * blockBytes }

    /// A new buffer with the rows of `source` (`outputs` rows of `inputs` values of `type`)
    /// interleaved; nil if a Q4_0 scale is too large for m = -8d to fit in F16.
    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer? {
        let blocks = inputs / 32, rowBytes = type.byteCount(elements: inputs)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: bytes(inputs: inputs, outputs: outputs), alignment: 64)
        var nibbles = [UInt8](repeating: 0, count: 32)
        for g in 0..<outputs / 8 {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * blockBytes
                for j in 0..<8 {
                    let block = source + (g * 8 + j) * rowBytes + b * (type == .q4_1 ? 20 : 18)
                    let qs = block + (type == .q4_1 ? 4 : 2)
                    for e in 0..<16 {
                        let byte = qs.load(fromByteOffset: e, as: UInt8.self)
                        nibbles[e] = byte & 0xF
                        nibbles[16 + e] = byte >> 4
                    }
                    (out + 2 * j).copyMemory(from: block, byteCount: 2)  // d
                    if type == .q4_1 {
                        (out + 16 + 2 * j).copyMemory(from: block + 2, byteCount: 2)
                    } else {
                        let m = Float16(-8 * Dequantize.half(block, 0))
                        guard m.isFinite else { packed.deallocate(); return nil }
                        out.storeBytes(of: m.bitPattern, toByteOffset: 16 + 2 * j, as: UInt16.self)
                    }
                    storeNibbles(nibbles, into: out + 32, row: j)
                }
            }
        }
        return packed
    }

    /// Row `j`'s 32 values (0...15) into four nibble chunks at `chunks`.
    static func storeNibbles(_ values: [UInt8], into chunks: UnsafeMutableRawPointer, row j: Int) {
        for u in 0..<4 {
            for i in 0..<4 {
                chunks.storeBytes(of: values[4 * u + i] | values[16 + 4 * u + i] << 4, toByteOffset: 32 * u + 4 * j + i, as: UInt8.self)
            }
        }
    }

    /// Row `j`'s element `e` from four nibble chunks.
    static func nibble(_ chunks: UnsafeRawPointer, row j: Int, _ e: Int) -> UInt8 {
        let byte = chunks.load(fromByteOffset: 32 * (e % 16 / 4) + 4 * j + e % 4, as: UInt8.self)
        return e < 16 ? byte & 0xF : byte >> 4
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        MinimumScales.dequantize(packed, blocks: blocks, groupBlockBytes: blockBytes, wide: false, row: row, into: out) { block, j, e in
            nibble(block + 32, row: j, e)
        }
    }
}
