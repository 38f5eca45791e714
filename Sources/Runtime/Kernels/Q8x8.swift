import GGUF

/// Q8_0 repacked at load, eight rows interleaved, for `wafer_q8x8_rows`. Per
/// group of eight rows and block of 32 inputs:
///
///     d[8] f16 | 8 chunks × 32 signed bytes
///
/// 272 bytes, as many as eight Q8_0 blocks. Byte 4j+i of chunk s is row j's element 4s+i.
enum Q8x8 {
    static let blockBytes = 272

    static func bytes(inputs: Int, outputs: Int) -> Int { outputs / 8 * (inputs / 32) * blockBytes }

    static func repack(_ source: UnsafeRawPointer, into packed: UnsafeMutableRawPointer, groups: Range<Int>, inputs: Int) {
        let blocks = inputs / 32, rowBytes = GGMLType.q8_0.byteCount(elements: inputs)
        for g in groups {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * blockBytes
                for j in 0..<8 {
                    let block = source + (g * 8 + j) * rowBytes + b * 34
                    (out + 2 * j).copyMemory(from: block, byteCount: 2)
                    for s in 0..<8 { (out + 16 + 32 * s + 4 * j).copyMemory(from: block + 2 + 4 * s, byteCount: 4) }
                }
            }
        }
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        let g = row / 8, j = row % 8
        for b in 0..<blocks {
            let block = packed + (g * blocks + b) * blockBytes
            let d = Dequantize.half(block, 2 * j)
            for e in 0..<32 { out[b * 32 + e] = Float(block.load(fromByteOffset: 16 + 32 * (e / 4) + 4 * j + e % 4, as: Int8.self)) * d }
        }
    }
}
