import Foundation

/// exp over 8 lanes at once. The sampler exponentiates the whole vocabulary
/// (49,152 logits) per token, and scalar `expf` calls were most of its time.
/// Relative error about 2e-7, ample for sampling weights.
@inline(__always)
func vectorExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // exp(x) = 2^n · exp(r), n = round(x / ln 2), |r| <= ln 2 / 2. Only plain
    // lane-wise arithmetic: the generic SIMD helpers (`rounded`, `clamped`,
    // `replacing`) are not vectorised and were slower than scalar expf.
    // Below -87 the result is ~1e-38 rather than 0, which no sum notices.
    let clamped = pointwiseMin(pointwiseMax(x, SIMD8(repeating: -87)), SIMD8(repeating: 88))
    // Adding 1.5 · 2^23 rounds to an integer, which the low mantissa bits then hold.
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let shifted = clamped * 1.442_695_04 + magic
    let n = shifted - magic
    // ln 2 split in two so n · ln2High is exact.
    let r = clamped - n * 0.693_145_75 - n * 1.428_606_8e-6
    // Taylor series to degree 6: the next term is below 1.2e-7 for |r| <= 0.347.
    var p = SIMD8<Float>(repeating: 1 / 720)
    p = p * r + 1 / 120
    p = p * r + 1 / 24
    p = p * r + 1 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let nBits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    return p * unsafeBitCast((nBits &+ 127) &<< 23, to: SIMD8<Float>.self)
}

/// w[c[i]] = exp((logits[c[i]] - shift) · scale) for i in 0..<count; returns their sum.
func exponentiate(_ c: UnsafeMutableBufferPointer<Int32>, count: Int, logits a: UnsafeBufferPointer<Float>,
                  shift: Float, scale: Float, into w: UnsafeMutableBufferPointer<Float>) -> Float {
    var sums = SIMD8<Float>()
    var i = 0
    while i + 8 <= count {
        let ids = UnsafeRawPointer(c.baseAddress! + i).loadUnaligned(as: SIMD8<Int32>.self)
        let x = SIMD8<Float>(a[Int(ids[0])], a[Int(ids[1])], a[Int(ids[2])], a[Int(ids[3])],
                             a[Int(ids[4])], a[Int(ids[5])], a[Int(ids[6])], a[Int(ids[7])])
        let e = vectorExp((x - shift) * scale)
        for lane in 0..<8 { w[Int(ids[lane])] = e[lane] }
        sums += e
        i += 8
    }
    var total = sums.sum()
    while i < count {
        var x = SIMD8<Float>(repeating: -.infinity)
        x[0] = a[Int(c[i])]
        let e = vectorExp((x - shift) * scale)[0]
        w[Int(c[i])] = e
        total += e
        i += 1
    }
    return total
}

/// log Σ exp(a[i]), over the whole vocabulary.
func logSumExp(_ a: UnsafeBufferPointer<Float>) -> Float {
    var m = -Float.infinity
    for x in a where x > m { m = x }
    guard m.isFinite else { return m }
    var sums = SIMD8<Float>()
    var i = 0
    while i + 8 <= a.count {
        sums += vectorExp(UnsafeRawPointer(a.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self) - m)
        i += 8
    }
    var tail = SIMD8<Float>(repeating: -.infinity)
    for j in i..<a.count { tail[j - i] = a[j] }
    sums += vectorExp(tail - m)
    return m + Float(log(Double(sums.sum())))
}
