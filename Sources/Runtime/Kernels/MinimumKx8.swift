import GGUF

/// Q4_K and Q5_K repacked at load at their own width, eight rows interleaved,
/// for `wafer_q4kx8_rows` and `wafer_q5kx8_rows`. Per group of eight rows
/// and super-block of 256 inputs:
///
///     d[8] f16 | dmin[8] f16 | 8 × (sc[8] u8 | min[8] u8 | 4 nibble chunks | fifth bits (Q5_K))
///
/// 1184 bytes for 2048 Q4_K values (4.625 bits each; the file's 4.5), 1440
/// for Q5_K (5.625; the file's 5.5). Values are q with w = d·sc·q - dmin·min;
/// the kernel applies sc and min in integers, so the values are the file's
/// bit for bit. The nibble chunks are `Q4x8`'s: byte 4j+i of chunk u holds
/// row j's element 4u+i (low) and 16+4u+i (high); Q5_K's fifth bits follow
/// in `FiveBitx8`'s chunk.
enum MinimumKx8 {
    static let headerBytes = 32

    static func blockBytes(_ type: GGMLType) -> Int { type == .q5_K ? 176 : 144 }
    static func superBytes(_ type: GGMLType) -> Int { headerBytes + 8 * blockBytes(type) }

    static func bytes(_ type: GGMLType, inputs: Int, outputs: Int) -> Int { outputs / 8 * (inputs / 256) * superBytes(type) }

    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, into packed: UnsafeMutableRawPointer, groups: Range<Int>, inputs: Int) {
        let supers = inputs / 256, rowBytes = type.byteCount(elements: inputs), fifthBits = type == .q5_K
        var nibbles = [UInt8](repeating: 0, count: 32), fifths = nibbles
        for g in groups {
            for s in 0..<supers {
                let header = packed + (g * supers + s) * superBytes(type)
                for j in 0..<8 {
                    // d, dmin f16, scales[12], (Q5_K: qh[32],) qs[128]: sub-block `sub` takes the low
                    // (even sub) or high nibbles of qs[32·(sub/2) ..] and bit `sub` of qh[l].
                    let superBlock = source + (g * 8 + j) * rowBytes + s * type.blockBytes
                    let qs = superBlock + (fifthBits ? 48 : 16)
                    (header + 2 * j).copyMemory(from: superBlock, byteCount: 2)           // d
                    (header + 16 + 2 * j).copyMemory(from: superBlock + 2, byteCount: 2)  // dmin
                    for sub in 0..<8 {
                        let out = header + headerBytes + sub * blockBytes(type)
                        let (scale, minimum) = Dequantize.scaleMin(superBlock + 4, sub)
                        out.storeBytes(of: scale, toByteOffset: j, as: UInt8.self)
                        out.storeBytes(of: minimum, toByteOffset: 8 + j, as: UInt8.self)
                        for l in 0..<32 {
                            let byte = qs.load(fromByteOffset: 32 * (sub / 2) + l, as: UInt8.self)
                            nibbles[l] = sub % 2 == 0 ? byte & 0xF : byte >> 4
                            if fifthBits { fifths[l] = superBlock.load(fromByteOffset: 16 + l, as: UInt8.self) >> UInt8(sub) & 1 }
                        }
                        Q4x8.storeNibbles(nibbles, into: out + 16, row: j)
                        if fifthBits { FiveBitx8.storeFifthBits(fifths, into: out + 16 + 128, row: j) }
                    }
                }
            }
        }
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ type: GGMLType, _ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        let g = row / 8, j = row % 8, supers = blocks / 8
        for s in 0..<supers {
            let header = packed + (g * supers + s) * superBytes(type)
            let d = Dequantize.half(header, 2 * j), dmin = Dequantize.half(header, 16 + 2 * j)
            for sub in 0..<8 {
                let block = header + headerBytes + sub * blockBytes(type)
                let scale = d * Float(block.load(fromByteOffset: j, as: UInt8.self))
                let minimum = -(dmin * Float(block.load(fromByteOffset: 8 + j, as: UInt8.self)))
                for e in 0..<32 {
                    let q = type == .q5_K ? FiveBitx8.value(block + 16, row: j, e) : Int(Q4x8.nibble(block + 16, row: j, e))
                    out[(8 * s + sub) * 32 + e] = Float(q) * scale + minimum
                }
            }
        }
    }
}
