import Engine

extension GenerationFields {
    /// The engine's sampling parameters for these fields; an out-of-range
    /// value is a 400 naming the field. `topLogprobs`: alternatives per token,
    /// nil when no logprobs were asked for.
    public func samplingParameters(topLogprobs: Int?, vocabularySize: Int) throws(APIError) -> SamplingParameters {
        var p = SamplingParameters()
        if let temperature { p.temperature = Float(temperature) }
        if let topP { p.topP = Float(topP) }
        if let topK { p.topK = topK }
        if let minP { p.minP = Float(minP) }
        if let presencePenalty { p.presencePenalty = Float(presencePenalty) }
        if let frequencyPenalty { p.frequencyPenalty = Float(frequencyPenalty) }
        if let repeatPenalty { p.repeatPenalty = Float(repeatPenalty) }
        if let repeatLastN { p.repeatLastN = repeatLastN }
        if let seed { p.seed = UInt64(bitPattern: seed) }
        p.logprobs = topLogprobs
        if let logitBias {
            for (key, bias) in logitBias {
                guard let token = Int32(key) else {
                    throw .invalidRequest("logit_bias keys must be token ids, got '\(key)'.", param: "logit_bias", code: "invalid_value")
                }
                p.logitBias[token] = Float(bias)
            }
        }
        do { try p.validate(vocabularySize: vocabularySize) } catch {
            throw .invalidRequest(error.description, param: error.field, code: "invalid_value")
        }
        return p
    }

    /// `n`, checked.
    public func choices() throws(APIError) -> Int {
        let n = n ?? 1
        guard (1...128).contains(n) else { throw .invalidRequest("n must be between 1 and 128, got \(n).", param: "n", code: "invalid_value") }
        return n
    }

    /// `max_tokens` / `max_completion_tokens`, checked; nil = up to the context.
    /// More than the context is refused, as OpenAI refuses more than a model's
    /// output limit; a prompt that leaves less room ends with `length` there.
    public func tokenLimit(context: Int) throws(APIError) -> Int? {
        guard let maxTokens else { return nil }
        guard (1...context).contains(maxTokens) else {
            throw .invalidRequest("\(maxTokensField) must be between 1 and the context of \(context) tokens, got \(maxTokens).",
                                  param: maxTokensField, code: "invalid_value")
        }
        return maxTokens
    }

    /// `stop`, checked: at most 16 strings.
    public func stopStrings() throws(APIError) -> [String] {
        let values = stop?.values ?? []
        guard values.count <= 16 else { throw .invalidRequest("stop may hold at most 16 strings.", param: "stop", code: "invalid_value") }
        return values
    }
}

extension APIError {
    /// How an engine refusal reaches the client.
    public init(_ error: EngineError) {
        switch error {
        case .queueFull:
            self = .overloaded("The server is at capacity: \(error.description).", retryAfterSeconds: 1)
        case .shuttingDown:
            self = .unavailable("The server is shutting down.")
        case .promptTooLong, .exceedsKVBudget:
            self = .invalidRequest(error.description, param: error.parameter, code: "context_length_exceeded")
        default:
            self = .invalidRequest(error.description, param: error.parameter, code: "invalid_value")
        }
    }
}
