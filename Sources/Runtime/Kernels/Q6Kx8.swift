import GGUF

/// Q6_K repacked at load at its own width, eight rows interleaved, for
/// `wafer_q6kx8_rows`. Per group of eight rows and super-block of 256 inputs:
///
///     d[8] f16 | 8 × (sc[2][8] i8 | 4 nibble chunks | 2 chunks of high bit pairs)
///
/// 1680 bytes for 2048 values: 6.5625 bits each, as in the file. Values are
/// q in 0...63 with w = (d·sc)·(q - 32), sc per 16 inputs; the kernel
/// multiplies out d·sc in F32, where it is exact. The low four bits are in
/// `Q4x8`'s nibble chunks; bits 2u, 2u+1 of byte 4j+i of the first high
/// chunk are row j's element 4u+i's top two bits, of the second 16+4u+i's.
enum Q6Kx8 {
    static let headerBytes = 16, blockBytes = 208
    static let superBytes = headerBytes + 8 * blockBytes

    static func bytes(inputs: Int, outputs: Int) -> Int { outputs / 8 * (inputs / 256) * superBytes }

    static func repack(_ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer {
        let supers = inputs / 256, rowBytes = GGMLType.q6_K.byteCount(elements: inputs)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: bytes(inputs: inputs, outputs: outputs), alignment: 64)
        packed.initializeMemory(as: UInt8.self, repeating: 0, count: bytes(inputs: inputs, outputs: outputs))
        var values = [Float](repeating: 0, count: 256), nibbles = [UInt8](repeating: 0, count: 32)
        for g in 0..<outputs / 8 {
            for s in 0..<supers {
                let header = packed + (g * supers + s) * superBytes
                for j in 0..<8 {
                    let superBlock = source + (g * 8 + j) * rowBytes + s * 210
                    (header + 2 * j).copyMemory(from: superBlock + 208, byteCount: 2)  // d
                    Dequantize.run(.q6_K, from: superBlock, to: &values, count: 256)
                    let d = Dequantize.half(superBlock, 208)
                    for sub in 0..<8 {
                        let out = header + headerBytes + sub * blockBytes
                        for half in 0..<2 {
                            let sc = superBlock.load(fromByteOffset: 192 + 2 * sub + half, as: Int8.self)
                            out.storeBytes(of: sc, toByteOffset: 8 * half + j, as: Int8.self)
                        }
                        for e in 0..<32 {
                            // w = (d·sc)·(q - 32) exactly, so w / (d·sc) is q - 32 exactly (any q when d·sc is 0).
                            let scale = d * Float(superBlock.load(fromByteOffset: 192 + 2 * sub + e / 16, as: Int8.self))
                            let q = UInt8(scale == 0 ? 32 : Int((values[32 * sub + e] / scale).rounded()) + 32)
                            nibbles[e] = q & 0xF
                            let at = 16 + 128 + 32 * (e / 16) + 4 * j + e % 4
                            out.storeBytes(of: out.load(fromByteOffset: at, as: UInt8.self) | (q >> 4) << UInt8(2 * (e % 16 / 4)),
                                           toByteOffset: at, as: UInt8.self)
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
            let d = Dequantize.half(header, 2 * j)
            for sub in 0..<8 {
                let block = header + headerBytes + sub * blockBytes
                for e in 0..<32 {
                    let scale = d * Float(block.load(fromByteOffset: 8 * (e / 16) + j, as: Int8.self))
                    let top = block.load(fromByteOffset: 16 + 128 + 32 * (e / 16) + 4 * j + e % 4, as: UInt8.self) >> UInt8(2 * (e % 16 / 4)) & 3
                    let q = Int(Q4x8.nibble(block + 16, row: j, e) | top << 4)
                    out[(8 * s + sub) * 32 + e] = scale * Float(q - 32)
                }
            }
        }
    }
}
