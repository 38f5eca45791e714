import GGUF

/// Q5_0 and Q5_1 repacked at load at their own width, eight rows interleaved,
/// for `wafer_q50x8_rows` and `wafer_q51x8_rows`. Per group of eight rows and
/// block of 32 inputs:
///
///     d[8] f16 | m[8] f16 (Q5_1) | 4 nibble chunks | 1 chunk of fifth bits
///
/// 176 bytes for 256 Q5_0 values, 192 for Q5_1: 5.5 and 6 bits each, as in
/// the file. Values are q in 0...31 with w = d·(q - 16) (Q5_0) or d·q + m
/// (Q5_1). The low four bits are in `Q4x8`'s nibble chunks; the fifth bits
/// as `storeFifthBits` lays them out (Q5_K's blocks use the same chunk).
enum FiveBitx8 {
    static func headerBytes(_ type: GGMLType) -> Int { type == .q5_1 ? 32 : 16 }
    static func blockBytes(_ type: GGMLType) -> Int { headerBytes(type) + 160 }

    static func bytes(_ type: GGMLType, inputs: Int, outputs: Int) -> Int { outputs / 8 * (inputs / 32) * blockBytes(type) }

    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, into packed: UnsafeMutableRawPointer, groups: Range<Int>, inputs: Int) {
        let blocks = inputs / 32, rowBytes = type.byteCount(elements: inputs), bytes = blockBytes(type), header = headerBytes(type)
        var nibbles = [UInt8](repeating: 0, count: 32), fifths = nibbles
        for g in groups {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * bytes
                for j in 0..<8 {
                    // d f16, (m f16,) qh u32, qs[16]: element e's low nibble in qs[e % 16], its fifth bit in qh bit e.
                    let block = source + (g * 8 + j) * rowBytes + b * type.blockBytes
                    (out + 2 * j).copyMemory(from: block, byteCount: 2)
                    if type == .q5_1 { (out + 16 + 2 * j).copyMemory(from: block + 2, byteCount: 2) }
                    let qhOffset = type == .q5_1 ? 4 : 2
                    let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: qhOffset, as: UInt32.self))
                    for e in 0..<32 {
                        let byte = block.load(fromByteOffset: qhOffset + 4 + e % 16, as: UInt8.self)
                        nibbles[e] = e < 16 ? byte & 0xF : byte >> 4
                        fifths[e] = UInt8((qh >> UInt32(e)) & 1)
                    }
                    Q4x8.storeNibbles(nibbles, into: out + header, row: j)
                    storeFifthBits(fifths, into: out + header + 128, row: j)
                }
            }
        }
    }

    /// Row `j`'s 32 fifth bits (0 or 1) into a zeroed chunk: bit u of byte 4j+i
    /// is element 4u+i's, bit 4+u element 16+4u+i's.
    static func storeFifthBits(_ bits: [UInt8], into chunk: UnsafeMutableRawPointer, row j: Int) {
        for e in 0..<32 {
            let at = 4 * j + e % 4
            let bit = bits[e] << UInt8(e % 16 / 4 + (e < 16 ? 0 : 4))
            chunk.storeBytes(of: chunk.load(fromByteOffset: at, as: UInt8.self) | bit, toByteOffset: at, as: UInt8.self)
        }
    }

    /// Row `j`'s 5-bit value of element `e` from nibble chunks followed by the fifth-bit chunk.
    static func value(_ chunks: UnsafeRawPointer, row j: Int, _ e: Int) -> Int {
        let fifth = chunks.load(fromByteOffset: 128 + 4 * j + e % 4, as: UInt8.self) >> UInt8(e % 16 / 4 + (e < 16 ? 0 : 4)) & 1
        return Int(Q4x8.nibble(chunks, row: j, e) | fifth << 4)
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ type: GGMLType, _ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        Repacked.dequantizeBlocks(packed, blocks: blocks, blockBytes: blockBytes(type), minimum: type == .q5_1, offset: 16, row: row,
                                  into: out) { chunks, j, e in value(chunks, row: j, e) }
    }
}
