#if canImport(Glibc)
import Glibc
#endif

/// Greedy (temperature 0) or temperature sampling with a seeded generator.
/// The engine's full sampler (top-k/p, penalties, ...) builds on this.
public struct Sampler {
    public let temperature: Float
    private var random: SplitMix64

    public init(temperature: Float, seed: UInt64) {
        self.temperature = temperature
        random = SplitMix64(seed: seed)
    }

    public mutating func sample(_ logits: [Float]) -> Int32 {
        guard temperature > 0 else { return Sampler.argmax(logits) }
        let maximum = logits.max() ?? 0
        let weights = logits.map { Double(expf(($0 - maximum) / temperature)) }
        let total = weights.reduce(0, +)
        var target = random.nextUnit() * total
        for i in weights.indices {
            target -= weights[i]
            if target <= 0 { return Int32(i) }
        }
        return Int32(logits.count - 1)
    }

    /// Index of the largest logit; the lowest index wins a tie.
    public static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return Int32(best)
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}
