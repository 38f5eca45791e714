import GGUF

/// Signed weights of at most 8 bits (Q8_0, Q5_0, Q6_K) repacked at load,
/// eight rows interleaved, for `wafer_q8x8_rows`: every value is stored as
/// one signed byte v with w = d·v. Per group of eight rows and block of 32
/// inputs:
///
///     d[8] f16 | 8 chunks × 32 bytes                  (Q8_0, Q5_0: 272 bytes)
///     d[2][8] f32, one per 16 inputs | 8 chunks       (Q6_K: 320 bytes)
///
/// Q8_0 keeps its bytes (272 bytes is as many as eight Q8_0 blocks); Q5_0
/// (q - 16) and Q6_K (q - 32, scaled by d·sc per 16, exact in F32) are
/// widened to a byte per value, which costs memory but keeps every value exact.
/// Byte 4j+i of chunk s is row j's element 4s+i.
enum Q8x8 {
    static func supports(_ type: GGMLType) -> Bool { type == .q8_0 || type == .q5_0 || type == .q6_K }

    /// Whether scales are F32 per 16 inputs (else F16 per 32).
    static func wideScales(_ type: GGMLType) -> Bool { type == .q6_K }

    static func groupBlockBytes(_ type: GGMLType) -> Int { wideScales(type) ? 320 : 272 }

    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer {
        let blocks = inputs / 32, bytes = groupBlockBytes(type), rowBytes = type.byteCount(elements: inputs)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: outputs / 8 * blocks * bytes, alignment: 64)
        var values = [Float](repeating: 0, count: 256)
        for g in 0..<outputs / 8 {
            for b in 0..<blocks {
                let out = packed + (g * blocks + b) * bytes, quants = out + bytes - 256
                for j in 0..<8 {
                    let row = source + (g * 8 + j) * rowBytes
                    switch type {
                    case .q8_0:
                        let block = row + b * 34
                        (out + 2 * j).copyMemory(from: block, byteCount: 2)
                        for s in 0..<8 { (quants + 32 * s + 4 * j).copyMemory(from: block + 2 + 4 * s, byteCount: 4) }
                        continue
                    case .q5_0:
                        // w = d·(q - 16): the value is w / d, exactly.
                        let block = row + b * 22
                        (out + 2 * j).copyMemory(from: block, byteCount: 2)
                        Dequantize.run(.q5_0, from: block, to: &values, count: 32)
                        store(values[0..<32], scale: { _ in Dequantize.half(block, 0) }, into: quants, row: j)
                    default:
                        // Q6_K: w = (d·sc)·(q - 32) with sc per 16 values; d·sc is exact in F32, so is w / (d·sc).
                        let superBlock = row + (b / 8) * 210, first = 32 * (b % 8)
                        Dequantize.run(.q6_K, from: superBlock, to: &values, count: 256)
                        let scale = { (e: Int) in
                            Dequantize.half(superBlock, 208) * Float(superBlock.load(fromByteOffset: 192 + (first + e) / 16, as: Int8.self))
                        }
                        for half in 0..<2 { out.storeBytes(of: scale(16 * half), toByteOffset: 32 * half + 4 * j, as: Float.self) }
                        store(values[first..<first + 32], scale: scale, into: quants, row: j)
                    }
                }
            }
        }
        return packed
    }

    /// Row `j`'s 32 values of a block as bytes v = w / scale(e).
    private static func store(_ values: ArraySlice<Float>, scale: (Int) -> Float, into quants: UnsafeMutableRawPointer, row j: Int) {
        for (e, w) in values.enumerated() {
            let d = scale(e)
            let v = d == 0 ? 0 : Int8((w / d).rounded())
            quants.storeBytes(of: v, toByteOffset: 32 * (e / 4) + 4 * j + e % 4, as: Int8.self)
        }
    }

    /// Row `row` as F32, equal bit for bit to dequantising the original blocks.
    static func dequantize(_ type: GGMLType, _ packed: UnsafeRawPointer, blocks: Int, row: Int, into out: UnsafeMutablePointer<Float>) {
        let g = row / 8, j = row % 8, bytes = groupBlockBytes(type)
        for b in 0..<blocks {
            let block = packed + (g * blocks + b) * bytes
            for e in 0..<32 {
                let d = wideScales(type) ? block.load(fromByteOffset: 32 * (e / 16) + 4 * j, as: Float.self) : Dequantize.half(block, 2 * j)
                let v = block.load(fromByteOffset: bytes - 256 + 32 * (e / 4) + 4 * j + e % 4, as: Int8.self)
                out[b * 32 + e] = wideScales(type) ? d * Float(v) : Float(v) * d
            }
        }
    }
}
