import Foundation

/// A token's log-probability under the model's distribution.
public struct TokenLogprob: Sendable, Equatable {
    public var id: Int32
    public var logprob: Float
    public init(id: Int32, logprob: Float) {
        self.id = id
        self.logprob = logprob
    }
}

/// What the sampler chose. `logprob` and `topLogprobs` are present only when
/// logprobs were requested, and are the log-softmax of the logits after bias
/// and penalties but before temperature and truncation: OpenAI reports the
/// model's distribution, not the one the token was drawn from.
public struct SampledToken: Sendable, Equatable {
    public var id: Int32
    public var logprob: Float?
    /// Most likely tokens first (ties: lower id first), `parameters.logprobs` of them.
    public var topLogprobs: [TokenLogprob]
}

/// Chooses one sequence's tokens. Holds its own random stream so a seeded
/// sequence gives the same tokens whatever shares its batch, and reuses its
/// vocabulary-sized buffers from token to token.
///
/// Order: logit bias → penalties → greedy argmax, or temperature → top-k →
/// top-p → min-p → draw.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: RandomSource
    /// [vocab] logits after bias and penalties.
    private var adjusted: [Float] = []
    /// Candidate token ids; only the first `candidateCount` are live.
    private var candidates: [Int32] = []
    /// [vocab] unnormalised probabilities, valid for the current candidates only.
    private var weights: [Float] = []
    /// [repeatLastN] scratch for the distinct tokens of the repeat window.
    private var window: [Int32] = []

    /// `fallbackSeed` is used when the request gave no seed (the engine draws it).
    public init(parameters: SamplingParameters, fallbackSeed: UInt64) {
        self.parameters = parameters
        random = RandomSource(seed: parameters.seed ?? fallbackSeed)
    }

    /// The next token; with a `constraint`, only among the tokens it allows (`endOfTurn` once it is complete).
    public mutating func sample(logits: UnsafeBufferPointer<Float>, history: TokenHistory,
                                constraint: (any TokenConstraint)? = nil, endOfTurn: Set<Int32> = []) -> SampledToken {
        let vocab = logits.count
        if adjusted.count != vocab {
            adjusted = [Float](repeating: 0, count: vocab)
            candidates = [Int32](repeating: 0, count: vocab)
        }
        // Local copies keep `self` free for the mutating helpers below.
        var adjusted = self.adjusted
        self.adjusted = []
        defer { self.adjusted = adjusted }

        adjusted.withUnsafeMutableBufferPointer { a in
            _ = a.initialize(fromContentsOf: logits)
            applyBias(a)
            applyPenalties(a, history: history)
        }
        var id: Int32 = adjusted.withUnsafeBufferPointer { a in parameters.isGreedy ? Self.argmax(a) : draw(a) }
        // Constrained: the token chosen without the mask stands if the constraint allows it (what the
        // masked distribution would give too: rejection sampling); only otherwise is the mask computed.
        if let constraint, !constraint.allows(id, endOfTurn: endOfTurn) {
            adjusted.withUnsafeMutableBufferPointer { constraint.mask($0, endOfTurn: endOfTurn) }
            id = adjusted.withUnsafeBufferPointer { a in parameters.isGreedy ? Self.argmax(a) : draw(a) }
        }
        guard let wanted = parameters.logprobs else {
            return SampledToken(id: id, logprob: nil, topLogprobs: [])
        }
        return adjusted.withUnsafeBufferPointer { a in
            let logSum = logSumExp(a)
            return SampledToken(
                id: id, logprob: a[Int(id)] - logSum,
                topLogprobs: Self.top(wanted, of: a).map { TokenLogprob(id: $0, logprob: a[Int($0)] - logSum) })
        }
    }

    // MARK: - Bias and penalties

    private func applyBias(_ a: UnsafeMutableBufferPointer<Float>) {
        for (token, bias) in parameters.logitBias where token >= 0 && Int(token) < a.count {
            // OpenAI: -100 "should result in a ban"; adding it to a large
            // logit would not guarantee that, so make it exact.
            a[Int(token)] = bias <= -100 ? -.infinity : a[Int(token)] + bias
        }
    }

    private mutating func applyPenalties(_ a: UnsafeMutableBufferPointer<Float>, history: TokenHistory) {
        let p = parameters
        if p.repeatPenalty != 1, p.repeatLastN > 0 {
            // Each distinct token of the window is penalised once, however
            // often it occurs there (llama.cpp's rule).
            window.removeAll(keepingCapacity: true)
            for i in max(0, history.count - p.repeatLastN)..<history.count { window.append(history[i]) }
            window.sort()
            var previous: Int32 = -1
            for token in window where token != previous && token >= 0 && Int(token) < a.count {
                previous = token
                let l = a[Int(token)]
                a[Int(token)] = l > 0 ? l / p.repeatPenalty : l * p.repeatPenalty
            }
        }
        if p.presencePenalty != 0 || p.frequencyPenalty != 0 {
            for (token, count) in history.generatedCounts where token >= 0 && Int(token) < a.count {
                a[Int(token)] -= p.presencePenalty + Float(count) * p.frequencyPenalty
            }
        }
    }

    // MARK: - Choosing

    /// Highest logit; the lowest id wins ties so greedy output is unambiguous.
    static func argmax(_ a: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in 1..<a.count where a[i] > a[best] { best = i }
        return Int32(best)
    }

    private mutating func draw(_ a: UnsafeBufferPointer<Float>) -> Int32 {
        let p = parameters
        let invT = 1 / p.temperature
        var cands = self.candidates, weights = self.weights
        self.candidates = []
        self.weights = []
        defer { self.candidates = cands; self.weights = weights }
        if weights.count != a.count { weights = [Float](repeating: 0, count: a.count) }

        return cands.withUnsafeMutableBufferPointer { c -> Int32 in
          weights.withUnsafeMutableBufferPointer { w -> Int32 in
            // Banned (-inf) and NaN tokens never become candidates.
            var n = 0
            var maxLogit = -Float.infinity
            for i in 0..<a.count where a[i] > -.infinity {
                c[n] = Int32(i)
                n += 1
                maxLogit = max(maxLogit, a[i])
            }
            if n == 0 { return Self.argmax(a) }  // everything banned: nothing sensible to draw

            // `sorted`: c[0..<n] is in rank order, most likely first. The
            // order of tokens does not change with temperature, so selection
            // works on the logits themselves.
            var sorted = false
            if p.topK > 0, p.topK < n {
                Self.selectTop(p.topK, in: c, count: n, logits: a)
                n = p.topK
                sorted = true
            }
            // Unnormalised probabilities w[id] = exp((l - max) / T), computed
            // once per candidate (the exp is most of the cost on a full vocabulary).
            var total = exponentiate(c, count: n, logits: a, shift: maxLogit, scale: invT, into: w)
            if p.topP < 1 {
                let kept = sorted
                    ? Self.prefixReaching(Float(p.topP) * total, in: c, count: n, weights: w)
                    : Self.selectNucleus(Float(p.topP) * total, in: c, count: n, logits: a, weights: w)
                n = kept
            }
            if p.minP > 0 {
                // p_i >= minP * p_max  ⇔  w_i >= minP (w of the most likely is 1).
                var kept = 0
                for i in 0..<n where w[Int(c[i])] >= p.minP {
                    c[kept] = c[i]
                    kept += 1
                }
                n = kept
            }
            if p.topP < 1 || p.minP > 0 {
                total = 0
                for i in 0..<n { total += w[Int(c[i])] }
            }
            let target = Float(random.nextUnit()) * total
            var sum: Float = 0
            for i in 0..<n {
                sum += w[Int(c[i])]
                if target < sum { return c[i] }
            }
            return c[n - 1]  // rounding left the target at the very end
          }
        }
    }

    /// Length of the shortest prefix of rank-ordered c[0..<count] whose weights reach `target`.
    static func prefixReaching(_ target: Float, in c: UnsafeMutableBufferPointer<Int32>, count: Int, weights w: UnsafeMutableBufferPointer<Float>) -> Int {
        var sum: Float = 0
        for i in 0..<count {
            sum += w[Int(c[i])]
            if sum >= target { return i + 1 }
        }
        return count
    }

    /// Top-p without sorting: rearranges c[0..<count] so c[0..<m] is the
    /// nucleus (the best ranked tokens whose weights first reach `target`),
    /// unordered, and returns m. A quickselect that follows the running sum
    /// instead of a count, so it is expected linear however large the nucleus.
    static func selectNucleus(_ target: Float, in c: UnsafeMutableBufferPointer<Int32>, count: Int, logits a: UnsafeBufferPointer<Float>, weights w: UnsafeMutableBufferPointer<Float>) -> Int {
        var lo = 0, hi = count - 1
        var before: Float = 0  // weight of c[0..<lo], all in the nucleus
        while lo <= hi {
            // Median of three moved to `hi` as pivot (deterministic).
            let mid = lo + (hi - lo) / 2
            if ranksBefore(c[mid], c[lo], a) { c.swapAt(mid, lo) }
            if ranksBefore(c[hi], c[lo], a) { c.swapAt(hi, lo) }
            if ranksBefore(c[mid], c[hi], a) { c.swapAt(hi, mid) }
            let pivot = c[hi]
            // Lomuto: c[lo..<store] rank before the pivot.
            var store = lo
            var better: Float = 0
            for i in lo..<hi where ranksBefore(c[i], pivot, a) {
                better += w[Int(c[i])]
                c.swapAt(i, store)
                store += 1
            }
            c.swapAt(store, hi)
            if before + better >= target {
                hi = store - 1
            } else if before + better + w[Int(pivot)] >= target {
                return store + 1
            } else {
                before += better + w[Int(pivot)]
                lo = store + 1
            }
        }
        return max(lo, 1)
    }

    // MARK: - Partial selection

    /// True when token `x` ranks before `y`: higher logit, then lower id. A
    /// total order, so the selected set and its order are always the same.
    @inline(__always)
    static func ranksBefore(_ x: Int32, _ y: Int32, _ a: UnsafeBufferPointer<Float>) -> Bool {
        let lx = a[Int(x)], ly = a[Int(y)]
        return lx > ly || (lx == ly && x < y)
    }

    /// Rearranges c[0..<count] so c[0..<k] are the k best ranked, in rank
    /// order: quickselect (expected linear) then a sort of just those k.
    static func selectTop(_ k: Int, in c: UnsafeMutableBufferPointer<Int32>, count: Int, logits a: UnsafeBufferPointer<Float>) {
        guard k > 0 else { return }
        if k <= 64 {
            // Small k (the usual top-k): one scan keeping c[0..<k] sorted;
            // most tokens fail the single comparison with the k-th best.
            var head = UnsafeMutableBufferPointer(rebasing: c[0..<k])
            head.sort { ranksBefore($0, $1, a) }
            for i in k..<count where ranksBefore(c[i], c[k - 1], a) {
                let id = c[i]
                var at = k - 1
                while at > 0, ranksBefore(id, c[at - 1], a) {
                    c[at] = c[at - 1]
                    at -= 1
                }
                c[at] = id
            }
            return
        }
        var lo = 0, hi = count - 1
        while lo < hi {
            // Median of three as pivot, deterministic (no random pivots: the
            // result must not depend on anything but the logits).
            let mid = lo + (hi - lo) / 2
            if ranksBefore(c[mid], c[lo], a) { c.swapAt(mid, lo) }
            if ranksBefore(c[hi], c[lo], a) { c.swapAt(hi, lo) }
            if ranksBefore(c[hi], c[mid], a) { c.swapAt(hi, mid) }
            let pivot = c[mid]
            var i = lo, j = hi
            while i <= j {
                while ranksBefore(c[i], pivot, a) { i += 1 }
                while ranksBefore(pivot, c[j], a) { j -= 1 }
                if i <= j { c.swapAt(i, j); i += 1; j -= 1 }
            }
            // c[lo...j] rank before or equal to pivot, c[i...hi] after or equal.
            if k - 1 <= j { hi = j } else if k - 1 >= i { lo = i } else { break }
        }
        var head = UnsafeMutableBufferPointer(rebasing: c[0..<k])
        head.sort { ranksBefore($0, $1, a) }
    }

    /// The `k` best ranked ids, by a small insertion-sorted list (k <= 20).
    static func top(_ k: Int, of a: UnsafeBufferPointer<Float>) -> [Int32] {
        guard k > 0 else { return [] }
        var best: [Int32] = []
        best.reserveCapacity(k + 1)
        for i in 0..<a.count {
            let id = Int32(i)
            if best.count == k, !ranksBefore(id, best[k - 1], a) { continue }
            var at = best.count
            while at > 0, ranksBefore(id, best[at - 1], a) { at -= 1 }
            best.insert(id, at: at)
            if best.count > k { best.removeLast() }
        }
        return best
    }
}
