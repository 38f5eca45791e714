/// How one sequence chooses its next token. Defaults mean "plain softmax
/// sampling at temperature 1, nothing truncated, nothing penalised".
public struct SamplingParameters: Sendable, Equatable {
    /// Softmax temperature; 0 means greedy (argmax). OpenAI allows 0...2.
    public var temperature: Float = 1.0
    /// Keep only the k most likely tokens; 0 = off.
    public var topK: Int = 0
    /// Keep the smallest set of most likely tokens whose probability reaches p; 1 = off.
    public var topP: Float = 1.0
    /// Drop tokens less likely than `minP` × the most likely one's probability; 0 = off.
    public var minP: Float = 0.0
    /// OpenAI: subtracted once from the logit of every token already generated.
    public var presencePenalty: Float = 0.0
    /// OpenAI: subtracted from a token's logit once per time it was generated.
    public var frequencyPenalty: Float = 0.0
    /// llama.cpp: positive logits divided, negative multiplied by this for
    /// tokens among the last `repeatLastN` of prompt + generated; 1 = off.
    public var repeatPenalty: Float = 1.0
    public var repeatLastN: Int = 64
    /// Added to the logits of the given token ids; -100 bans the token outright.
    public var logitBias: [Int32: Float] = [:]
    /// Per-request seed; nil lets the engine pick one.
    public var seed: UInt64? = nil
    /// Number of top alternatives to report with each token (0...20); nil = no logprobs at all.
    public var logprobs: Int? = nil

    public init(
        temperature: Float = 1.0, topK: Int = 0, topP: Float = 1.0, minP: Float = 0.0,
        presencePenalty: Float = 0.0, frequencyPenalty: Float = 0.0,
        repeatPenalty: Float = 1.0, repeatLastN: Int = 64,
        logitBias: [Int32: Float] = [:], seed: UInt64? = nil, logprobs: Int? = nil
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.repeatPenalty = repeatPenalty
        self.repeatLastN = repeatLastN
        self.logitBias = logitBias
        self.seed = seed
        self.logprobs = logprobs
    }

    /// Greedy decoding: no randomness, so seed and truncation do not matter.
    public var isGreedy: Bool { temperature == 0 }

    /// Checks every field against the ranges OpenAI (or llama.cpp, for its
    /// own fields) accepts. NaN fails every range check.
    public func validate(vocabularySize: Int) throws(SamplingError) {
        guard (0...2).contains(temperature) else { throw .temperature(temperature) }
        guard topK >= 0 else { throw .topK(topK) }
        guard topP > 0, topP <= 1 else { throw .topP(topP) }
        guard (0...1).contains(minP) else { throw .minP(minP) }
        guard (-2...2).contains(presencePenalty) else { throw .presencePenalty(presencePenalty) }
        guard (-2...2).contains(frequencyPenalty) else { throw .frequencyPenalty(frequencyPenalty) }
        guard repeatPenalty > 0, repeatPenalty.isFinite else { throw .repeatPenalty(repeatPenalty) }
        guard repeatLastN >= 0 else { throw .repeatLastN(repeatLastN) }
        // Sorted so the error names the same token every time.
        for token in logitBias.keys.sorted() {
            guard token >= 0, Int(token) < vocabularySize else {
                throw .logitBiasToken(token, vocabularySize: vocabularySize)
            }
            let bias = logitBias[token]!
            guard (-100...100).contains(bias) else { throw .logitBiasValue(token: token, bias) }
        }
        if let logprobs, !(0...20).contains(logprobs) { throw .logprobs(logprobs) }
    }
}

/// An invalid sampling value, naming the request field it came from.
public enum SamplingError: Error, Equatable, CustomStringConvertible {
    case temperature(Float)
    case topK(Int)
    case topP(Float)
    case minP(Float)
    case presencePenalty(Float)
    case frequencyPenalty(Float)
    case repeatPenalty(Float)
    case repeatLastN(Int)
    case logitBiasToken(Int32, vocabularySize: Int)
    case logitBiasValue(token: Int32, Float)
    case logprobs(Int)

    /// The request field at fault, as spelled on the wire.
    public var field: String {
        switch self {
        case .temperature: "temperature"
        case .topK: "top_k"
        case .topP: "top_p"
        case .minP: "min_p"
        case .presencePenalty: "presence_penalty"
        case .frequencyPenalty: "frequency_penalty"
        case .repeatPenalty: "repeat_penalty"
        case .repeatLastN: "repeat_last_n"
        case .logitBiasToken, .logitBiasValue: "logit_bias"
        case .logprobs: "top_logprobs"
        }
    }

    public var description: String {
        switch self {
        case .temperature(let v): "temperature must be between 0 and 2, got \(v)"
        case .topK(let v): "top_k must be 0 (off) or positive, got \(v)"
        case .topP(let v): "top_p must be greater than 0 and at most 1, got \(v)"
        case .minP(let v): "min_p must be between 0 and 1, got \(v)"
        case .presencePenalty(let v): "presence_penalty must be between -2 and 2, got \(v)"
        case .frequencyPenalty(let v): "frequency_penalty must be between -2 and 2, got \(v)"
        case .repeatPenalty(let v): "repeat_penalty must be greater than 0, got \(v)"
        case .repeatLastN(let v): "repeat_last_n must be 0 or positive, got \(v)"
        case .logitBiasToken(let t, let n): "logit_bias names token \(t), outside the vocabulary of \(n) tokens"
        case .logitBiasValue(let t, let v): "logit_bias for token \(t) must be between -100 and 100, got \(v)"
        case .logprobs(let v): "top_logprobs must be between 0 and 20, got \(v)"
        }
    }
}
