import Foundation
import GGUF

/// Q4_1 weights repacked at load, eight rows interleaved, for the integer
/// kernel (`wafer_q4_1x8_rows`): per group of eight rows and per block of 32
/// inputs, 160 bytes (as many as the eight original blocks):
///
///     d[8] f16 | m[8] f16 | 4 chunks × 32 bytes
///
/// Byte 4j+i of chunk u holds row j's element 4u+i in its low nibble and
/// element 16+4u+i in its high nibble: one 32-bit lane per row, so four
/// activation bytes broadcast against a chunk multiply all eight rows.
enum Q4_1x8 {
    static let groupBlockBytes = 160

    /// A new buffer with the rows of `source` (`outputs` rows of `blocks` Q4_1 blocks) interleaved.
    static func repack(_ source: UnsafeRawPointer, outputs: Int, blocks: Int) -> UnsafeMutableRawPointer {
        let packed = UnsafeMutableRawPointer.allocate(byteCount: outputs * blocks * 20, alignment: 64)
        let rowBytes = blocks * 20
        for g in 0..<outputs / 8 {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * groupBlockBytes
                for j in 0..<8 {
                    let block = source + (g * 8 + j) * rowBytes + b * 20
                    (out + 2 * j).copyMemory(from: block, byteCount: 2)           // d
                    (out + 16 + 2 * j).copyMemory(from: block + 2, byteCount: 2)  // m
                    for u in 0..<4 { (out + 32 + 32 * u + 4 * j).copyMemory(from: block + 4 + 4 * u, byteCount: 4) }
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
            let d = Dequantize.half(block, 2 * j), m = Dequantize.half(block, 16 + 2 * j)
            for e in 0..<16 {
                let byte = block.load(fromByteOffset: 32 + 32 * (e / 4) + 4 * j + e % 4, as: UInt8.self)
                out[b * 32 + e] = Float(byte & 0xF) * d + m
                out[b * 32 + 16 + e] = Float(byte >> 4) * d + m
            }
        }
    }
}
