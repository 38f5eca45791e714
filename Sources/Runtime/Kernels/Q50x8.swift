import GGUF

/// Q5_0 repacked at load at its own width, eight rows interleaved, for
/// `wafer_q50x8_rows`. Per group of eight rows and block of 32 inputs:
///
///     d[8] f16 | 4 nibble chunks | 1 chunk of fifth bits
///
/// 176 bytes for 256 values: 5.5 bits each, as in the file. Values are q in
/// 0...31 with w = d·(q - 16). The low four bits are in `Q4x8`'s nibble
/// chunks; bit u of byte 4j+i of the last chunk is row j's element 4u+i's
/// fifth bit, bit 4+u element 16+4u+i's.
enum Q50x8 {
    static let blockBytes = 176

    static func bytes(inputs: Int, outputs: Int) -> Int { outputs / 8 * (inputs / 32) * blockBytes }

    static func repack(_ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer {
        let blocks = inputs / 32, rowBytes = GGMLType.q5_0.byteCount(elements: inputs)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: bytes(inputs: inputs, outputs: outputs), alignment: 64)
        packed.initializeMemory(as: UInt8.self, repeating: 0, count: bytes(inputs: inputs, outputs: outputs))
        var nibbles = [UInt8](repeating: 0, count: 32)
        for g in 0..<outputs / 8 {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * blockBytes
                for j in 0..<8 {
                    // d f16, qh u32, qs[16]: element e's low nibble in qs[e % 16], its fifth bit in qh bit e.
                    let block = source + (g * 8 + j) * rowBytes + b * 22
                    (out + 2 * j).copyMemory(from: block, byteCount: 2)
                    let qh = UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
                    for e in 0..<32 {
                        let byte = block.load(fromByteOffset: 6 + e % 16, as: UInt8.self)
                        nibbles[e] = e < 16 ? byte & 0xF : byte >> 4
                        let at = 16 + 128 + 4 * j + e % 4
                        let bit = UInt8((qh >> UInt32(e)) & 1) << UInt8(e % 16 / 4 + (e < 16 ? 0 : 4))
                        out.storeBytes(of: out.load(fromByteOffset: at, as: UInt8.self) | bit, toByteOffset: at, as: UInt8.self)
                    }
                    Q4x8.storeNibbles(nibbles, into: out + 16, row: j)
                }
            }
        }
        return packed
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        let g = row / 8, j = row % 8
        for b in 0..<blocks {
            let block = packed + (g * blocks + b) * blockBytes
            let d = Dequantize.half(block, 2 * j)
            for e in 0..<32 {
                let fifth = block.load(fromByteOffset: 16 + 128 + 4 * j + e % 4, as: UInt8.self) >> UInt8(e % 16 / 4 + (e < 16 ? 0 : 4)) & 1
                out[b * 32 + e] = Float(Int(Q4x8.nibble(block + 16, row: j, e) | fifth << 4) - 16) * d
            }
        }
    }
}
