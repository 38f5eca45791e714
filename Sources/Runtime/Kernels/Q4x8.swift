import GGUF

/// 4-bit weights (Q4_0, Q4_1) repacked at load at their own width, eight
/// rows interleaved, for `wafer_q40x8_rows` and `wafer_q4x8_rows`. Every 32
/// inputs of a row are stored as q in 0...15 with w = d·q + m (Q4_1) or
/// d·(q - 8) (Q4_0, whose m = -8d the kernel forms exactly in F32); per group
/// of eight rows and block of 32 inputs:
///
///     d[8] f16 | m[8] f16 (Q4_1) | 4 chunks × 32 bytes
///
/// 144 bytes (Q4_0) or 160 (Q4_1), as many as eight of the file's blocks.
/// Byte 4j+i of chunk u holds row j's element 4u+i in its low nibble and
/// element 16+4u+i in its high nibble: one 32-bit lane per row, so four
/// activation bytes broadcast against a chunk multiply all eight rows.
/// Dequantising the packed form gives the original values bit for bit.
enum Q4x8 {
    static func headerBytes(_ type: GGMLType) -> Int { type == .q4_1 ? 32 : 16 }
    static func blockBytes(_ type: GGMLType) -> Int { headerBytes(type) + 128 }

    static func bytes(_ type: GGMLType, inputs: Int, outputs: Int) -> Int { outputs / 8 * (inputs / 32) * blockBytes(type) }

    /// Groups `groups` of the rows of `source` (rows of `inputs` values of `type`) interleaved into `packed`.
    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, into packed: UnsafeMutableRawPointer, groups: Range<Int>, inputs: Int) {
        let blocks = inputs / 32, rowBytes = type.byteCount(elements: inputs), bytes = blockBytes(type)
        var nibbles = [UInt8](repeating: 0, count: 32)
        for g in groups {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * bytes
                for j in 0..<8 {
                    // d f16, (m f16,) qs[16]: element e's nibble in qs[e % 16], low for e < 16.
                    let block = source + (g * 8 + j) * rowBytes + b * type.blockBytes
                    let qs = block + (type == .q4_1 ? 4 : 2)
                    for e in 0..<16 {
                        let byte = qs.load(fromByteOffset: e, as: UInt8.self)
                        nibbles[e] = byte & 0xF
                        nibbles[16 + e] = byte >> 4
                    }
                    (out + 2 * j).copyMemory(from: block, byteCount: 2)  // d
                    if type == .q4_1 { (out + 16 + 2 * j).copyMemory(from: block + 2, byteCount: 2) }
                    storeNibbles(nibbles, into: out + headerBytes(type), row: j)
                }
            }
        }
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
    static func dequantize(_ type: GGMLType, _ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        Repacked.dequantizeBlocks(packed, blocks: blocks, blockBytes: blockBytes(type), minimum: type == .q4_1, offset: 8, row: row,
                                  into: out) { chunks, j, e in Int(nibble(chunks, row: j, e)) }
    }
}
