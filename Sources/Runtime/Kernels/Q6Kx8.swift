import GGUF

/// Q6_K repacked at load at its own width, eight rows interleaved, for
/// `wafer_q6kx8_rows`. Per group of eight rows and super-block of 256 inputs:
///
///     d[8] f16 | 8 × (sc[2][8] i8 | 2 halves × 3 chunks of 32 bytes)
///
/// 1680 bytes for 2048 values: 6.5625 bits each, as in the file. Values are
/// q in 0...63 with w = (d·sc)·(q - 32), sc per 16 inputs (a half); the kernel
/// multiplies out d·sc in F32, where it is exact. In half h, byte 4j+i of
/// chunk k holds row j's element 16h+4k+i in bits 0-5 and bits 2k, 2k+1 of
/// its element 16h+12+i in bits 6-7: every byte carries six bits of one value
/// and two of a fourth, so three of each four values take one AND to unpack.
enum Q6Kx8 {
    static let headerBytes = 16, blockBytes = 208
    static let superBytes = headerBytes + 8 * blockBytes

    static func bytes(inputs: Int, outputs: Int) -> Int { outputs / 8 * (inputs / 256) * superBytes }

    static func repack(_ source: UnsafeRawPointer, into packed: UnsafeMutableRawPointer, groups: Range<Int>, inputs: Int) {
        let supers = inputs / 256, rowBytes = GGMLType.q6_K.byteCount(elements: inputs)
        var values = [UInt8](repeating: 0, count: 256)
        for g in groups {
            for s in 0..<supers {
                let header = packed + (g * supers + s) * superBytes
                for j in 0..<8 {
                    let superBlock = source + (g * 8 + j) * rowBytes + s * 210
                    (header + 2 * j).copyMemory(from: superBlock + 208, byteCount: 2)  // d
                    values.withUnsafeMutableBufferPointer { unpack(superBlock, into: $0.baseAddress!) }
                    for sub in 0..<8 {
                        let out = header + headerBytes + sub * blockBytes
                        for half in 0..<2 {
                            let sc = superBlock.load(fromByteOffset: 192 + 2 * sub + half, as: Int8.self)
                            out.storeBytes(of: sc, toByteOffset: 8 * half + j, as: Int8.self)
                        }
                        for half in 0..<2 {
                            let q = 32 * sub + 16 * half
                            for k in 0..<3 {
                                for i in 0..<4 {
                                    let byte = values[q + 4 * k + i] | (values[q + 12 + i] >> UInt8(2 * k) & 3) << 6
                                    out.storeBytes(of: byte, toByteOffset: chunkOffset(half: half, chunk: k, row: j) + i, as: UInt8.self)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Where row `row`'s four bytes of `chunk` in `half` of a block begin.
    private static func chunkOffset(half: Int, chunk: Int, row: Int) -> Int { 16 + 96 * half + 32 * chunk + 4 * row }

    /// The 256 values (q in 0...63) of a Q6_K super-block: ql[128], qh[64], scales[16], d. In half n
    /// of 128 values, value 32k + l has the low (k < 2) or high nibble of ql[64n + 32(k % 2) + l] and
    /// bits 2k, 2k+1 of qh[32n + l].
    private static func unpack(_ superBlock: UnsafeRawPointer, into q: UnsafeMutablePointer<UInt8>) {
        let ql = superBlock.assumingMemoryBound(to: UInt8.self), qh = ql + 128
        for n in 0..<2 {
            for l in 0..<32 {
                let a = ql[64 * n + l], b = ql[64 * n + 32 + l], h = qh[32 * n + l]
                q[128 * n + l] = a & 0xF | (h & 3) << 4
                q[128 * n + 32 + l] = b & 0xF | (h >> 2 & 3) << 4
                q[128 * n + 64 + l] = a >> 4 | (h >> 4 & 3) << 4
                q[128 * n + 96 + l] = b >> 4 | (h >> 6) << 4
            }
        }
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
                    let half = e / 16, k = e % 16 / 4, i = e % 4
                    func byte(_ chunk: Int) -> UInt8 { block.load(fromByteOffset: chunkOffset(half: half, chunk: chunk, row: j) + i, as: UInt8.self) }
                    let q = k < 3 ? Int(byte(k) & 0x3F) : (0..<3).reduce(0) { $0 | Int(byte($1) >> 6) << (2 * $1) }
                    out[(8 * s + sub) * 32 + e] = scale * Float(q - 32)
                }
            }
        }
    }
}
