/// Block layouts of the ggml types and their conversion to F32. Used at load
/// (full precision) and for rows that kernels do not read natively. Layouts
/// follow ggml's block structs; comments give each block's bytes.
public enum Dequantize {
    /// Converts `count` elements (a multiple of the type's block size) from `src` to `dst`.
    public static func run(_ type: GGMLType, from src: UnsafeRawPointer, to dst: UnsafeMutablePointer<Float>, count: Int) {
        let blocks = count / type.blockSize
        for b in 0..<blocks {
            let block = src + b * type.blockBytes
            let out = dst + b * type.blockSize
            switch type {
            case .f32: out[0] = block.loadUnaligned(as: Float.self)
            case .f16: out[0] = half(block, 0)
            case .bf16: out[0] = Float(bitPattern: UInt32(u16(block, 0)) << 16)
            case .q8_0: q8_0(block, out)
            case .q4_0: q4_0(block, out)
            case .q4_1: q4_1(block, out)
            case .q5_0: q5(block, out, hasMin: false)
            case .q5_1: q5(block, out, hasMin: true)
            case .q4_K: q4_K(block, out)
            case .q5_K: q5_K(block, out)
            case .q6_K: q6_K(block, out)
            }
        }
    }

    @inline(__always) static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always) public static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: u16(p, offset)))
    }

    @inline(__always) static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        p.load(fromByteOffset: offset, as: UInt8.self)
    }

    // d: f16, qs: 32 × int8
    static func q8_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        for j in 0..<32 { y[j] = Float(p.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
    }

    // d: f16, qs: 16 bytes; low nibbles are elements 0..15, high nibbles 16..31; value (q - 8)·d
    static func q4_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        for j in 0..<16 {
            let q = byte(p, 2 + j)
            y[j] = Float(Int(q & 0xF) - 8) * d
            y[j + 16] = Float(Int(q >> 4) - 8) * d
        }
    }

    // d, m: f16, qs: 16 bytes; value q·d + m
    static func q4_1(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), m = half(p, 2)
        for j in 0..<16 {
            let q = byte(p, 4 + j)
            y[j] = Float(q & 0xF) * d + m
            y[j + 16] = Float(q >> 4) * d + m
        }
    }

    // q5_0: d, qh: u32, qs[16] → (q - 16)·d.  q5_1: d, m, qh, qs[16] → q·d + m.
    // Bit j of qh is the fifth bit of element j, bit j+16 that of element j+16.
    static func q5(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, hasMin: Bool) {
        let d = half(p, 0)
        let m: Float = hasMin ? half(p, 2) : 0
        let qhOffset = hasMin ? 4 : 2
        let qh = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: qhOffset, as: UInt32.self))
        let bias = hasMin ? 0 : 16
        for j in 0..<16 {
            let q = byte(p, qhOffset + 4 + j)
            let lo = Int(q & 0xF) | Int((qh >> UInt32(j)) & 1) << 4
            let hi = Int(q >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = Float(lo - bias) * d + m
            y[j + 16] = Float(hi - bias) * d + m
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0..<8) from the 12 packed bytes of a Q4_K/Q5_K block.
    @inline(__always) public static func scaleMin(_ scales: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, min: UInt8) {
        let q = { (i: Int) in scales.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (q(j) & 63, q(j + 4) & 63) }
        return ((q(j + 4) & 0xF) | ((q(j - 4) >> 6) << 4), (q(j + 4) >> 4) | ((q(j) >> 6) << 4))
    }

    // d, dmin: f16, scales[12], qs[128]. Eight sub-blocks of 32; each 64-element
    // chunk takes the low nibbles of 32 bytes, then their high nibbles.
    static func q4_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), dmin = half(p, 2)
        let scales = p + 4, qs = p + 16
        for chunk in 0..<4 {
            let (s0, m0) = scaleMin(scales, 2 * chunk), (s1, m1) = scaleMin(scales, 2 * chunk + 1)
            let d0 = d * Float(s0), d1 = d * Float(s1), min0 = dmin * Float(m0), min1 = dmin * Float(m1)
            for l in 0..<32 {
                let q = byte(qs, 32 * chunk + l)
                y[64 * chunk + l] = d0 * Float(q & 0xF) - min0
                y[64 * chunk + 32 + l] = d1 * Float(q >> 4) - min1
            }
        }
    }

    // d, dmin: f16, scales[12], qh[32], qs[128]: as Q4_K with a fifth bit per
    // element; chunk c uses bits 2c (low nibbles) and 2c+1 (high nibbles) of qh[l].
    static func q5_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), dmin = half(p, 2)
        let scales = p + 4, qh = p + 16, qs = p + 48
        for chunk in 0..<4 {
            let (s0, m0) = scaleMin(scales, 2 * chunk), (s1, m1) = scaleMin(scales, 2 * chunk + 1)
            let d0 = d * Float(s0), d1 = d * Float(s1), min0 = dmin * Float(m0), min1 = dmin * Float(m1)
            for l in 0..<32 {
                let q = byte(qs, 32 * chunk + l), h = byte(qh, l)
                let lo = Int(q & 0xF) + (Int(h >> (2 * chunk)) & 1) * 16
                let hi = Int(q >> 4) + (Int(h >> (2 * chunk + 1)) & 1) * 16
                y[64 * chunk + l] = d0 * Float(lo) - min0
                y[64 * chunk + 32 + l] = d1 * Float(hi) - min1
            }
        }
    }

    // ql[128], qh[64], scales: 16 × int8, d: f16. Two halves of 128; in each,
    // element l + 32k takes a nibble of ql and two bits of qh, minus 32.
    static func q6_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 208)
        for half in 0..<2 {
            let ql = p + 64 * half, qh = p + 128 + 32 * half
            let sc = p + 192 + 8 * half
            let out = y + 128 * half
            for l in 0..<32 {
                let a = byte(ql, l), b = byte(ql, l + 32), h = byte(qh, l)
                let q0 = Int(a & 0xF) | Int(h & 3) << 4
                let q1 = Int(b & 0xF) | Int((h >> 2) & 3) << 4
                let q2 = Int(a >> 4) | Int((h >> 4) & 3) << 4
                let q3 = Int(b >> 4) | Int((h >> 6) & 3) << 4
                let s = l / 16
                let scale = { (k: Int) in d * Float(sc.load(fromByteOffset: s + 2 * k, as: Int8.self)) }
                out[l] = scale(0) * Float(q0 - 32)
                out[l + 32] = scale(1) * Float(q1 - 32)
                out[l + 64] = scale(2) * Float(q2 - 32)
                out[l + 96] = scale(3) * Float(q3 - 32)
            }
        }
    }
}
