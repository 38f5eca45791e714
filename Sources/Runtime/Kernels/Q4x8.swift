import GGUF

/// 4-bit weights (Q4_0, Q4_1, Q4_K) repacked at load, eight rows interleaved,
/// for the integer kernel (`wafer_q4x8_rows`). Every 32 inputs of a row are
/// stored as w = d·q + m with q in 0...15; per group of eight rows and block
/// of 32 inputs:
///
///     d[8] | m[8] | 4 chunks × 32 bytes
///
/// with d and m in F16 for Q4_0 and Q4_1 (160 bytes, as many as eight Q4_1
/// blocks; Q4_0's m = -8d is exact in F16) and in F32 for Q4_K (192 bytes:
/// its sub-block scales d·sc and dmin·m are exact in F32, not in F16).
/// Byte 4j+i of chunk u holds row j's element 4u+i in its low nibble and
/// element 16+4u+i in its high nibble: one 32-bit lane per row, so four
/// activation bytes broadcast against a chunk multiply all eight rows.
/// Dequantising the packed form gives the original values bit for bit.
enum Q4x8 {
    static func supports(_ type: GGMLType) -> Bool { type == .q4_0 || type == .q4_1 || type == .q4_K }

    /// Whether d and m are stored as F32 (else F16).
    static func wideScales(_ type: GGMLType) -> Bool { type == .q4_K }

    static func groupBlockBytes(_ type: GGMLType) -> Int { wideScales(type) ? 192 : 160 }

    /// A new buffer with the rows of `source` (`outputs` rows of `inputs` values of `type`)
    /// interleaved; nil if a Q4_0 scale is too large for m = -8d to fit in F16.
    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer? {
        let blocks = inputs / 32, bytes = groupBlockBytes(type), rowBytes = type.byteCount(elements: inputs)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: outputs / 8 * blocks * bytes, alignment: 64)
        var nibbles = [UInt8](repeating: 0, count: 32)
        for g in 0..<outputs / 8 {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * bytes
                for j in 0..<8 {
                    let row = source + (g * 8 + j) * rowBytes
                    switch type {
                    case .q4_1, .q4_0:
                        let block = row + b * (type == .q4_1 ? 20 : 18)
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
                    default:  // Q4_K: sub-block b % 8 of super-block b / 8
                        let block = row + (b / 8) * 144, sub = b % 8
                        MinimumScales.storeK(block, sub: sub, into: out, row: j)
                        let qs = block + 16 + 32 * (sub / 2)
                        for e in 0..<32 {
                            let byte = qs.load(fromByteOffset: e, as: UInt8.self)
                            nibbles[e] = sub % 2 == 0 ? byte & 0xF : byte >> 4
                        }
                    }
                    let quants = out + bytes - 128
                    for u in 0..<4 {
                        for i in 0..<4 {
                            quants.storeBytes(of: nibbles[4 * u + i] | nibbles[16 + 4 * u + i] << 4, toByteOffset: 32 * u + 4 * j + i, as: UInt8.self)
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
            let byte = block.load(fromByteOffset: bytes - 128 + 32 * (e % 16 / 4) + 4 * j + e % 4, as: UInt8.self)
            return e < 16 ? byte & 0xF : byte >> 4
        }
    }
}
