import GGUF

/// Q4_K repacked at load at its own width, eight rows interleaved, for
/// `wafer_q4kx8_rows`. Per group of eight rows and super-block of 256 inputs:
///
///     d[8] f16 | dmin[8] f16 | 8 × (sc[8] u8 | min[8] u8 | 4 chunks × 32 bytes)
///
/// 1184 bytes for 2048 values (4.625 bits each; the file's 4.5). The kernel
/// multiplies out d·sc and dmin·min in F32, where both are exact, so the
/// values are the file's bit for bit. The nibble chunks are `Q4x8`'s: byte
/// 4j+i of chunk u holds row j's element 4u+i (low) and 16+4u+i (high).
enum Q4Kx8 {
    static let headerBytes = 32, blockBytes = 144
    static let superBytes = headerBytes + 8 * blockBytes

    static func bytes(inputs: Int, outputs: Int) -> Int { outputs / 8 * (inputs / 256) * superBytes }

    static func repack(_ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer {
        let supers = inputs / 256, rowBytes = GGMLType.q4_K.byteCount(elements: inputs)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: bytes(inputs: inputs, outputs: outputs), alignment: 64)
        var nibbles = [UInt8](repeating: 0, count: 32)
        for g in 0..<outputs / 8 {
            for s in 0..<supers {
                let header = packed + (g * supers + s) * superBytes
                for j in 0..<8 {
                    let superBlock = source + (g * 8 + j) * rowBytes + s * 144
                    (header + 2 * j).copyMemory(from: superBlock, byteCount: 2)           // d
                    (header + 16 + 2 * j).copyMemory(from: superBlock + 2, byteCount: 2)  // dmin
                    for sub in 0..<8 {
                        let out = header + headerBytes + sub * blockBytes
                        let (scale, minimum) = Dequantize.scaleMin(superBlock + 4, sub)
                        out.storeBytes(of: scale, toByteOffset: j, as: UInt8.self)
                        out.storeBytes(of: minimum, toByteOffset: 8 + j, as: UInt8.self)
                        let qs = superBlock + 16 + 32 * (sub / 2)
                        for e in 0..<32 {
                            let byte = qs.load(fromByteOffset: e, as: UInt8.self)
                            nibbles[e] = sub % 2 == 0 ? byte & 0xF : byte >> 4
                        }
                        Q4x8.storeNibbles(nibbles, into: out + 16, row: j)
                    }
                }
            }
        }
        return packed
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        let g = row / 8, j = row % 8, supers = blocks / 8
        for s in 0..<supers {
            let header = packed + (g * supers + s) * superBytes
            let d = Dequantize.half(header, 2 * j), dmin = Dequantize.half(header, 16 + 2 * j)
            for sub in 0..<8 {
                let block = header + headerBytes + sub * blockBytes
                let scale = d * Float(block.load(fromByteOffset: j, as: UInt8.self))
                let minimum = -(dmin * Float(block.load(fromByteOffset: 8 + j, as: UInt8.self)))
                for e in 0..<32 { out[(8 * s + sub) * 32 + e] = Float(Q4x8.nibble(block + 16, row: j, e)) * scale + minimum }
            }
        }
    }
}
