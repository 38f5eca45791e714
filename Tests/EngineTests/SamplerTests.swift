import Foundation
import Testing
@testable import Engine

/// Draws one token from `logits`.
func draw(_ sampler: inout Sampler, _ logits: [Float], _ history: TokenHistory = TokenHistory()) -> SampledToken {
    logits.withUnsafeBufferPointer { sampler.sample(logits: $0, history: history) }
}

/// How often each token is drawn in `n` draws.
func histogram(_ parameters: SamplingParameters, _ logits: [Float], draws n: Int = 20_000) -> [Int] {
    var sampler = Sampler(parameters: parameters, fallbackSeed: 42)
    var counts = [Int](repeating: 0, count: logits.count)
    for _ in 0..<n { counts[Int(draw(&sampler, logits).id)] += 1 }
    return counts
}

/// Pearson's chi-square of observed counts against expected probabilities.
func chiSquare(_ counts: [Int], _ probabilities: [Double]) -> Double {
    let n = Double(counts.reduce(0, +))
    return zip(counts, probabilities).reduce(0) { sum, pair in
        let expected = n * pair.1
        return sum + (Double(pair.0) - expected) * (Double(pair.0) - expected) / expected
    }
}

func logSoftmax(_ logits: [Float]) -> [Double] {
    let m = Double(logits.max()!)
    let lse = m + log(logits.reduce(0.0) { $0 + exp(Double($1) - m) })
    return logits.map { Double($0) - lse }
}

@Suite struct SamplerTests {
    @Test func greedyIsArgmax() {
        var sampler = Sampler(parameters: SamplingParameters(temperature: 0), fallbackSeed: 1)
        #expect(draw(&sampler, [0.1, 3, -1, 2.9]).id == 1)
        #expect(draw(&sampler, [-5, -4, -3]).id == 2)
    }

    @Test func greedyTiesGoToLowestId() {
        var sampler = Sampler(parameters: SamplingParameters(temperature: 0), fallbackSeed: 1)
        #expect(draw(&sampler, [1, 7, 3, 7, 7]).id == 1)
    }

    @Test func temperatureOneFollowsSoftmax() {
        let p = [0.2, 0.3, 0.5]
        let counts = histogram(SamplingParameters(), p.map { Float(log($0)) })
        // 2 degrees of freedom: 13.8 is the 99.9th percentile.
        #expect(chiSquare(counts, p) < 13.8, "counts \(counts)")
    }

    @Test func lowTemperatureSharpens() {
        // At T = 0.5 probabilities go as p², renormalised.
        let p = [0.2, 0.3, 0.5]
        let sharp = p.map { $0 * $0 }.map { $0 / 0.38 }
        let counts = histogram(SamplingParameters(temperature: 0.5), p.map { Float(log($0)) })
        #expect(chiSquare(counts, sharp) < 13.8, "counts \(counts)")
    }

    @Test func topKKeepsTheKMostLikely() {
        let counts = histogram(SamplingParameters(topK: 2), [1, 3, 0.5, 2], draws: 5_000)
        #expect(counts[0] == 0 && counts[2] == 0 && counts[1] > 0 && counts[3] > 0)
        let p = [exp(3.0), exp(2.0)].map { $0 / (exp(3.0) + exp(2.0)) }
        #expect(chiSquare([counts[1], counts[3]], p) < 10.8)
    }

    @Test func topKOnLargeVocabulary() {
        var rng = RandomSource(seed: 7)
        let logits = (0..<49_152).map { _ in Float(rng.nextUnit() * 10) }
        let top = Set(logits.indices.sorted { logits[$0] > logits[$1] }.prefix(40).map(Int32.init))
        var sampler = Sampler(parameters: SamplingParameters(temperature: 2, topK: 40), fallbackSeed: 3)
        var seen = Set<Int32>()
        for _ in 0..<300 { seen.insert(draw(&sampler, logits).id) }
        #expect(seen.isSubset(of: top) && seen.count > 30)
    }

    @Test func topPKeepsTheNucleus() {
        let p = [0.05, 0.5, 0.15, 0.3]
        let counts = histogram(SamplingParameters(topP: 0.75), p.map { Float(log($0)) }, draws: 5_000)
        // 0.5 + 0.3 reaches 0.75: tokens 1 and 3 only.
        #expect(counts[0] == 0 && counts[2] == 0 && counts[1] > 0 && counts[3] > 0)
    }

    @Test func topPOnLargeVocabularyGrowsTheHead() {
        // A nucleus of hundreds of tokens, larger than the first selection round.
        let logits = (0..<20_000).map { Float(-Double($0) * 0.002) }
        let probs = logSoftmax(logits).map(exp)
        var cumulative = 0.0, nucleus = 0
        while cumulative < 0.3 { cumulative += probs[nucleus]; nucleus += 1 }
        var sampler = Sampler(parameters: SamplingParameters(topP: 0.3), fallbackSeed: 5)
        var highest: Int32 = 0
        for _ in 0..<500 { highest = max(highest, draw(&sampler, logits).id) }
        #expect(nucleus > 64 && highest < nucleus && Int(highest) > nucleus * 9 / 10, "nucleus \(nucleus), highest \(highest)")
    }

    @Test func minPDropsUnlikelyTokens() {
        let p = [0.5, 0.3, 0.15, 0.05]
        let logits = p.map { Float(log($0)) }
        // Floor 0.2 × 0.5 = 0.1: only token 3 goes (unsorted path).
        let a = histogram(SamplingParameters(minP: 0.2), logits, draws: 5_000)
        #expect(a[3] == 0 && a[0] > 0 && a[1] > 0 && a[2] > 0)
        // After top-k (sorted path), floor 0.5 × 0.5 = 0.25 keeps 0 and 1.
        let b = histogram(SamplingParameters(topK: 3, minP: 0.5), logits, draws: 5_000)
        #expect(b[2] == 0 && b[3] == 0 && b[0] > 0 && b[1] > 0)
    }

    /// The adjusted logits, up to a constant, read back through the logprobs
    /// (which are taken after bias and penalties).
    func adjusted(_ parameters: SamplingParameters, _ logits: [Float], _ history: TokenHistory) -> [Float] {
        var parameters = parameters
        parameters.logprobs = logits.count
        var sampler = Sampler(parameters: parameters, fallbackSeed: 0)
        let top = draw(&sampler, logits, history).topLogprobs
        var out = [Float](repeating: 0, count: logits.count)
        for t in top { out[Int(t.id)] = t.logprob }
        return out.map { $0 - out[0] }
    }

    @Test func presenceAndFrequencyPenalties() {
        var history = TokenHistory(prompt: [3, 3, 3])  // prompt tokens are not penalised
        for t: Int32 in [1, 2, 1] { history.append(t) }
        let a = adjusted(SamplingParameters(presencePenalty: 0.25, frequencyPenalty: 0.5), [0, 0, 0, 0], history)
        #expect(abs(a[1] - -1.25) < 1e-5 && abs(a[2] - -0.75) < 1e-5 && abs(a[3]) < 1e-5)
    }

    @Test func repeatPenaltyOverTheWindow() {
        // Window of 3: tokens 1, 2 (twice: penalised once). Token 3 is older.
        var history = TokenHistory(prompt: [3, 1])
        history.append(2)
        history.append(2)
        let logits: [Float] = [0.5, 2, -2, 4]
        let a = adjusted(SamplingParameters(repeatPenalty: 2, repeatLastN: 3), logits, history)
        let expected: [Float] = [0.5, 1, -4, 4].map { $0 - 0.5 }
        #expect(zip(a, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(a)")
    }

    @Test func logitBiasAddsAndMinus100Bans() {
        let a = adjusted(SamplingParameters(logitBias: [2: 1.5]), [0, 0, 0], TokenHistory())
        #expect(abs(a[2] - 1.5) < 1e-5)
        var greedy = Sampler(parameters: SamplingParameters(temperature: 0, logitBias: [0: -100]), fallbackSeed: 0)
        #expect(draw(&greedy, [500, 1, 2]).id == 2)
        let counts = histogram(SamplingParameters(temperature: 2, logitBias: [1: -100]), [0, 300, 0], draws: 2_000)
        #expect(counts[1] == 0 && counts[0] > 0 && counts[2] > 0)
    }

    @Test func logprobsAreTheModelsLogSoftmax() {
        let logits: [Float] = [1, 2, 3, 0.5, 3]
        let expected = logSoftmax(logits)
        // Temperature and top-k do not change the reported logprobs.
        var sampler = Sampler(parameters: SamplingParameters(temperature: 0.7, topK: 2, logprobs: 3), fallbackSeed: 9)
        let token = draw(&sampler, logits)
        #expect(token.id == 2 || token.id == 4)
        #expect(abs(Double(token.logprob!) - expected[Int(token.id)]) < 1e-5)
        #expect(token.topLogprobs.map(\.id) == [2, 4, 1])
        for t in token.topLogprobs { #expect(abs(Double(t.logprob) - expected[Int(t.id)]) < 1e-5) }

        var plain = Sampler(parameters: SamplingParameters(), fallbackSeed: 9)
        let none = draw(&plain, logits)
        #expect(none.logprob == nil && none.topLogprobs.isEmpty)
        var zero = Sampler(parameters: SamplingParameters(temperature: 0, logprobs: 0), fallbackSeed: 9)
        let onlyChosen = draw(&zero, logits)
        #expect(onlyChosen.id == 2 && onlyChosen.topLogprobs.isEmpty && abs(Double(onlyChosen.logprob!) - expected[2]) < 1e-5)
    }

    @Test func seedReproducesAndFallbackIsUsedOnlyWithoutOne() {
        var rng = RandomSource(seed: 11)
        let steps = (0..<50).map { _ in (0..<1_000).map { _ in Float(rng.nextUnit() * 4) } }
        func run(_ parameters: SamplingParameters, fallback: UInt64) -> [Int32] {
            var sampler = Sampler(parameters: parameters, fallbackSeed: fallback)
            var history = TokenHistory(prompt: [1, 2, 3])
            return steps.map { logits in
                let id = draw(&sampler, logits, history).id
                history.append(id)
                return id
            }
        }
        let p = SamplingParameters(topP: 0.9, frequencyPenalty: 0.3, seed: 1234)
        #expect(run(p, fallback: 1) == run(p, fallback: 2))
        var other = p
        other.seed = 1235
        #expect(run(p, fallback: 1) != run(other, fallback: 1))
        var unseeded = p
        unseeded.seed = nil
        #expect(run(unseeded, fallback: 7) == run(unseeded, fallback: 7))
        #expect(run(unseeded, fallback: 7) != run(unseeded, fallback: 8))
    }

    @Test func partialSelectionMatchesAFullSort() {
        var rng = RandomSource(seed: 3)
        for trial in 0..<50 {
            let n = 1 + Int(rng.next() % 3_000)
            // Few distinct values, so there are many ties to order by id.
            let logits = (0..<n).map { _ in Float(rng.next() % 17) }
            let k = 1 + Int(rng.next() % UInt64(n))
            var ids = (0..<n).map(Int32.init).shuffled(using: &rng)
            let expected = (0..<n).map(Int32.init).sorted { (x: Int32, y: Int32) -> Bool in
                let lx = logits[Int(x)], ly = logits[Int(y)]
                return lx > ly || (lx == ly && x < y)
            }
            logits.withUnsafeBufferPointer { a in
                ids.withUnsafeMutableBufferPointer { Sampler.selectTop(k, in: $0, count: n, logits: a) }
                #expect(Array(ids.prefix(k)) == Array(expected.prefix(k)), "trial \(trial)")
                #expect(Sampler.top(min(k, 20), of: a) == Array(expected.prefix(min(k, 20))))
            }
        }
    }
}

@Suite struct SamplerKernelTests {
    @Test func smallTopKMatchesAFullSort() {
        var rng = RandomSource(seed: 4)
        for k in [1, 2, 40, 64, 65] {
            let n = 5_000
            let logits = (0..<n).map { _ in Float(rng.next() % 50) }
            var ids = (0..<n).map(Int32.init)
            let expected = ids.sorted { (x: Int32, y: Int32) -> Bool in
                let lx = logits[Int(x)], ly = logits[Int(y)]
                return lx > ly || (lx == ly && x < y)
            }
            logits.withUnsafeBufferPointer { a in
                ids.withUnsafeMutableBufferPointer { Sampler.selectTop(k, in: $0, count: n, logits: a) }
            }
            #expect(Array(ids.prefix(k)) == Array(expected.prefix(k)), "k \(k)")
        }
    }

    @Test func vectorExpIsAccurate() {
        for start in stride(from: Float(-80), to: 80, by: 0.37) {
            let x = SIMD8<Float>((0..<8).map { start + Float($0) * 0.041 })
            let e = vectorExp(x)
            for lane in 0..<8 {
                let want = Foundation.exp(Double(x[lane]))
                #expect(abs(Double(e[lane]) - want) <= want * 1e-6, "exp(\(x[lane]))")
            }
        }
        #expect(vectorExp(SIMD8(repeating: -.infinity))[0] < 1e-37)
        let logits: [Float] = (0..<1_001).map { Float($0 % 13) * 0.7 - 3 }
        let want = log(logits.reduce(0.0) { $0 + Foundation.exp(Double($1)) })
        #expect(abs(Double(logits.withUnsafeBufferPointer(logSumExp)) - want) < 1e-5)
    }

    @Test func nucleusSelectionMatchesSortedPrefix() {
        var rng = RandomSource(seed: 8)
        for trial in 0..<30 {
            let n = 1 + Int(rng.next() % 2_000)
            let logits = (0..<n).map { _ in Float(rng.next() % 40) * 0.25 }
            let p = Float(rng.nextUnit() * 0.98 + 0.01)
            var ids = (0..<n).map(Int32.init)
            var weights = [Float](repeating: 0, count: n)
            let ranked = ids.sorted { (x: Int32, y: Int32) -> Bool in
                let lx = logits[Int(x)], ly = logits[Int(y)]
                return lx > ly || (lx == ly && x < y)
            }
            logits.withUnsafeBufferPointer { a in
                ids.withUnsafeMutableBufferPointer { c in
                    weights.withUnsafeMutableBufferPointer { w in
                        let total = exponentiate(c, count: n, logits: a, shift: 10, scale: 1, into: w)
                        var sorted = ranked
                        let m = sorted.withUnsafeMutableBufferPointer { Sampler.prefixReaching(p * total, in: $0, count: n, weights: w) }
                        let got = Sampler.selectNucleus(p * total, in: c, count: n, logits: a, weights: w)
                        #expect(got == m && Set(c[0..<got]) == Set(ranked[0..<m]), "trial \(trial)")
                    }
                }
            }
        }
    }
}
