import GGUF

/// 5-bit weights with a minimum (Q5_1, Q5_K) repacked at load, eight rows
/// interleaved, for `wafer_q5x8_rows`: every 32 inputs of a row are stored as
/// w = d·q + m with q in 0...31, a byte per value. Per group of eight rows
/// and block of 32 inputs:
///
///     d[8] | m[8] | 8 chunks × 32 bytes
///
/// with d and m in F16 for Q5_1 (288 bytes) and in F32 for Q5_K (320 bytes:
/// its sub-block scales d·sc and dmin·m are exact in F32, not in F16).
/// Byte 4j+i of chunk s is row j's element 4s+i. Dequantising the packed
/// form gives the original values bit for bit.
enum Q5x8 {
    static func supports(_ type: GGMLType) -> Bool { type == .q5_1 || type == .q5_K }

    static func wideScales(_ type: GGMLType) -> Bool { type == .q5_K }

    static func groupBlockBytes(_ type: GGMLType) -> Int { wideScales(type) ? 320 : 288 }

    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer {
        let blocks = inputs / 32, bytes = groupBlockBytes(type), rowBytes = type.byteCount(elements: inputs)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: outputs / 8 * blocks * bytes, alignment: 64)
        for g in 0..<outputs / 8 {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * bytes, quants = out + bytes - 256
                for j in 0..<8 {
                    let row = source + (g * 8 + j) * rowBytes
                    func store(_ e: Int, _ q: UInt8) { quants.storeBytes(of: q, toByteOffset: 32 * (e / 4) + 4 * j + e % 4, as: UInt8.self) }
                    if type == .q5_1 {
                        // d, m f16, qh u32, qs[16]: element e's low nibble in qs[e % 16], its fifth bit in qh bit e.
                        let block = row + b * 24
                        (out + 2 * j).copyMemory(from: block, byteCount: 2)
                        (out + 16 + 2 * j).copyMemory(from: block + 2, byteCount: 2)
                        let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                        for e in 0..<32 {
                            let byte = block.load(fromByteOffset: 8 + e % 16, as: UInt8.self)
                            store(e, (e < 16 ? byte & 0xF : byte >> 4) | UInt8((qh >> UInt32(e)) & 1) << 4)
                        }
                    } else {
                        // Q5_K sub-block b % 8: nibbles of qs[32·(sub/2) ..] (low for even sub), fifth bit qh[l] bit sub.
                        let block = row + (b / 8) * 176, sub = b % 8
                        MinimumScales.storeK(block, sub: sub, into: out, row: j)
                        for l in 0..<32 {
                            let byte = block.load(fromByteOffset: 48 + 32 * (sub / 2) + l, as: UInt8.self)
                            let high = block.load(fromByteOffset: 16 + l, as: UInt8.self) >> UInt8(sub) & 1
                            store(l, (sub % 2 == 0 ? byte & 0xF : byte >> 4) | high << 4)
                        }
                    }
                }
            }
        }
        return packed
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ type: GGMLType, _ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        let bytes = groupBlockBytes(type)
        MinimumScales.dequantize(packed, blocks: blocks, groupBlockBytes: bytes, wide: wideScales(type), row: row, into: out) { block, j, e in
            block.load(fromByteOffset: bytes - 256 + 32 * (e / 4) + 4 * j + e % 4, as: UInt8.self)
        }
    }
}
