import GGUF

/// Q8_0 weights repacked at load, eight rows interleaved, for
/// `wafer_q8_0x8_rows`: per group of eight rows and block of 32 inputs,
/// 272 bytes (as many as the eight original blocks):
///
///     d[8] f16 | 8 chunks × 32 bytes
///
/// Byte 4j+i of chunk s is row j's element 4s+i.
enum Q8_0x8 {
    static let groupBlockBytes = 272

    static func repack(_ source: UnsafeRawPointer, outputs: Int, blocks: Int) -> UnsafeMutableRawPointer {
        let packed = UnsafeMutableRawPointer.allocate(byteCount: outputs * blocks * 34, alignment: 64)
        let rowBytes = blocks * 34
        for g in 0..<outputs / 8 {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * groupBlockBytes
                for j in 0..<8 {
                    let block = source + (g * 8 + j) * rowBytes + b * 34
                    (out + 2 * j).copyMemory(from: block, byteCount: 2)
                    for s in 0..<8 { (out + 16 + 32 * s + 4 * j).copyMemory(from: block + 2 + 4 * s, byteCount: 4) }
                }
            }
        }
        return packed
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        let g = row / 8, j = row % 8
        for b in 0..<blocks {
            let block = packed + (g * blocks + b) * groupBlockBytes
            let d = Dequantize.half(block, 2 * j)
            for e in 0..<32 {
                out[b * 32 + e] = Float(block.load(fromByteOffset: 16 + 32 * (e / 4) + 4 * j + e % 4, as: Int8.self)) * d
            }
        }
    }
}
