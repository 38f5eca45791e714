import GGUF

/// Matrix-vector products for decode rows, computed our own way so that a
/// row's arithmetic is fixed: each output is one 16-lane fused multiply-add
/// chain over the inputs in order, then one fixed horizontal sum, whether
/// the step carries one row or thirty-two (batch invariance, DESIGN.md).
/// A weight row is read once from memory for all activation rows of the step.
enum RowKernels {
    /// y[r·ldy + o] = W[o] · x[r·inputs ..< (r+1)·inputs] for o in `outputs`, r in 0..<rows.
    /// `weightRow(o, buffer)` returns row o as F32: a pointer into F32
    /// weights, or `buffer` (inputs floats) after dequantising into it.
    @inline(__always)
    static func multiply(inputs: Int, outputs: Range<Int>, x: UnsafePointer<Float>, rows: Int,
                         y: UnsafeMutablePointer<Float>, ldy: Int,
                         weightRow: (Int, UnsafeMutablePointer<Float>) -> UnsafePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: inputs) { buffer in
            var w = UnsafePointer(buffer.baseAddress!)
            forEachOutput(outputs, rows: rows, y: y, ldy: ldy,
                          begin: { o in w = weightRow(o, buffer.baseAddress!) },
                          four: { _, r in dot4(w, x + r * inputs, inputs) },
                          one: { _, r in dot1(w, x + r * inputs, inputs) })
        }
    }

    /// The shared loop of the row kernels: for each output, activation rows in
    /// tiles of four, then one by one; `four` and `one` must give a row the
    /// same result, which is what makes the kernels batch-invariant.
    @inline(__always)
    static func forEachOutput(_ outputs: Range<Int>, rows: Int, y: UnsafeMutablePointer<Float>, ldy: Int,
                              begin: (Int) -> Void, four: (Int, Int) -> (Float, Float, Float, Float),
                              one: (Int, Int) -> Float) {
        for o in outputs {
            begin(o)
            var r = 0
            while r + 4 <= rows {
                let s = four(o, r)
                y[r * ldy + o] = s.0
                y[(r + 1) * ldy + o] = s.1
                y[(r + 2) * ldy + o] = s.2
                y[(r + 3) * ldy + o] = s.3
                r += 4
            }
            while r < rows {
                y[r * ldy + o] = one(o, r)
                r += 1
            }
        }
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// The fixed reduction of a 16-lane accumulator: halves, then halves again.
    @inline(__always) static func sum(_ v: SIMD16<Float>) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// Scalar tail for lengths that are not a multiple of 16, in order.
    @inline(__always) static func tail(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, from i: Int, _ n: Int) -> Float {
        var s: Float = 0
        for j in i..<n { s = s.addingProduct(w[j], x[j]) }
        return s
    }

    @inline(__always) static func dot1(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var a = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            a = a.addingProduct(load(w + i), load(x + i))
            i += 16
        }
        return sum(a) + tail(w, x, from: i, n)
    }

    /// Four activation rows against one weight row; each row's chain is exactly `dot1`'s.
    @inline(__always) static func dot4(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Float, Float) {
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        let x1 = x + n, x2 = x + 2 * n, x3 = x + 3 * n
        var i = 0
        while i + 16 <= n {
            let wv = load(w + i)
            a0 = a0.addingProduct(wv, load(x + i))
            a1 = a1.addingProduct(wv, load(x1 + i))
            a2 = a2.addingProduct(wv, load(x2 + i))
            a3 = a3.addingProduct(wv, load(x3 + i))
            i += 16
        }
        return (sum(a0) + tail(w, x, from: i, n), sum(a1) + tail(w, x1, from: i, n),
                sum(a2) + tail(w, x2, from: i, n), sum(a3) + tail(w, x3, from: i, n))
    }
}

/// Row dequantisation with SIMD for the types the default model uses; the
/// results equal `Dequantize.run` bit for bit (same operations, same rounding).
enum RowDequantize {
    static func run(_ type: GGMLType, from src: UnsafeRawPointer, to dst: UnsafeMutablePointer<Float>, count: Int) {
        switch type {
        case .q4_1: q4_1(src, dst, count)
        case .q8_0: q8_0(src, dst, count)
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        default: Dequantize.run(type, from: src, to: dst, count: count)
        }
    }

    @inline(__always) static func floats(_ v: SIMD16<UInt8>) -> SIMD16<Float> {
        var f = SIMD16<Float>()
        for i in 0..<16 { f[i] = Float(v[i]) }
        return f
    }

    @inline(__always) static func floats(_ v: SIMD16<Int8>) -> SIMD16<Float> {
        var f = SIMD16<Float>()
        for i in 0..<16 { f[i] = Float(v[i]) }
        return f
    }

    @inline(__always) static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    // Block: f16 d, f16 m, 16 bytes; element j = low nibble of byte j, element j+16 = high nibble.
    static func q4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * 20
            let d = SIMD16<Float>(repeating: Dequantize.half(block, 0)), m = SIMD16<Float>(repeating: Dequantize.half(block, 2))
            let q = (block + 4).loadUnaligned(as: SIMD16<UInt8>.self)
            let out = dst + b * 32
            store(floats(q & 0xF) * d + m, out)
            store(floats(q &>> 4) * d + m, out + 16)
        }
    }

    // Block: f16 d, 32 × int8.
    static func q8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count / 32 {
            let block = src + b * 34
            let d = SIMD16<Float>(repeating: Dequantize.half(block, 0))
            let out = dst + b * 32
            store(floats((block + 2).loadUnaligned(as: SIMD16<Int8>.self)) * d, out)
            store(floats((block + 18).loadUnaligned(as: SIMD16<Int8>.self)) * d, out + 16)
        }
    }
}
