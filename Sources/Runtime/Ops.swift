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

    /// Rotates each head's first `ropeDimension` elements by position-dependent
    /// angles, given as (cos, sin) per pair by `RopeTable.rotations`.
    static func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDimension: Int, rotations: UnsafePointer<Float>,
                     table: RopeTable) {
        let pairs = table.inverseFrequencies.count
        for i in 0..<pairs {
            let c = rotations[2 * i], s = rotations[2 * i + 1]
            for h in 0..<heads {
                let head = x + h * headDimension
                let (a, b) = table.style == .adjacent ? (2 * i, 2 * i + 1) : (i, i + pairs)
                let x0 = head[a], x1 = head[b]
                head[a] = x0 * c - x1 * s
                head[b] = x0 * s + x1 * c
            }
        }
    }
}

/// RoPE's per-pair inverse frequencies base^(-2i/d), in double so that large
/// positions keep their precision.
struct RopeTable {
    let inverseFrequencies: [Double]
    let style: ModelConfig.RopeStyle

    /// (cos, sin) of every pair's angle at `position`, into `out` (2 floats per pair):
    /// computed once per row and step, shared by every layer and by queries and keys.
    func rotations(position: Int, into out: UnsafeMutablePointer<Float>) {
        for (i, frequency) in inverseFrequencies.enumerated() {
            let angle = Double(position) * frequency
            out[2 * i] = Float(cos(angle))
            out[2 * i + 1] = Float(sin(angle))
        }
    }

    init(base: Float, dimension d: Int, style: ModelConfig.RopeStyle) {
        inverseFrequencies = (0..<d / 2).map { pow(Double(base), -2 * Double($0) / Double(d)) }
        self.style = style
    }
}
