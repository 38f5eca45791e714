#if canImport(Glibc)
import Glibc
#endif

/// The element-wise pieces of the forward pass. Each works on one row so that
/// a row's arithmetic never depends on what else is in the batch.
enum Ops {
    /// out = x / rms(x) · weight. The sum of squares is kept in double, as ggml does.
    static func rmsNorm(_ x: UnsafePointer<Float>, weight: [Float], epsilon: Float, into out: UnsafeMutablePointer<Float>) {
        let n = weight.count
        var sum: Double = 0
        for i in 0..<n { sum += Double(x[i]) * Double(x[i]) }
        let scale = Float(1 / (sum / Double(n) + Double(epsilon)).squareRoot())
        weight.withUnsafeBufferPointer { w in
            for i in 0..<n { out[i] = x[i] * scale * w[i] }
        }
    }

    /// x += residual, then out = rmsNorm(x): a residual connection and the next norm
    /// in one pass over the row (`out` may be `residual`; it is read first).
    static func rmsNorm(_ x: UnsafeMutablePointer<Float>, adding residual: UnsafePointer<Float>, weight: [Float], epsilon: Float,
                        into out: UnsafeMutablePointer<Float>) {
        for i in 0..<weight.count { x[i] += residual[i] }
        rmsNorm(x, weight: weight, epsilon: epsilon, into: out)
    }

    /// Rotates each head's first `ropeDimension` elements by position-dependent angles.
    static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDimension: Int, position: Int,
                     table: RopeTable) {
        let pairs = table.inverseFrequencies.count
        for i in 0..<pairs {
            let angle = Double(position) * table.inverseFrequencies[i]
            let c = Float(cos(angle)), s = Float(sin(angle))
            for h in 0..<heads {
                let head = x + h * headDimension
                let (a, b) = table.style == .adjacent ? (2 * i, 2 * i + 1) : (i, i + pairs)
                let x0 = head[a], x1 = head[b]
                head[a] = x0 * c - x1 * s
                head[b] = x0 * s + x1 * c
            }
        }
    }

    /// In-place softmax of `n` scores.
    static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var maximum = -Float.infinity
        for i in 0..<n { maximum = max(maximum, x[i]) }
        var sum: Double = 0
        for i in 0..<n {
            let e = expf(x[i] - maximum)
            x[i] = e
            sum += Double(e)
        }
        let inverse = Float(1 / sum)
        for i in 0..<n { x[i] *= inverse }
    }

    /// gate ← silu(gate) · up
    static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }
}

/// RoPE's per-pair inverse frequencies base^(-2i/d), in double so that large
/// positions keep their precision.
struct RopeTable {
    let inverseFrequencies: [Double]
    let style: ModelConfig.RopeStyle

    init(config: ModelConfig) {
        let d = config.ropeDimension
        inverseFrequencies = (0..<d / 2).map { pow(Double(config.ropeBase), -2 * Double($0) / Double(d)) }
        style = config.ropeStyle
    }
}
