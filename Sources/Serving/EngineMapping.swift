import Engine
import OpenAI

extension GenerationFields {
    /// The engine request for one prompt. Only conversions here: ranges are
    /// checked by `RequestLimits` and the engine (`Engine.validate`), whose refusals name the field.
    /// `topLogprobs`: alternatives per token, nil when no logprobs were asked for.
    public func generationRequest(prompt: [Int32], topLogprobs: Int?) throws(APIError) -> GenerationRequest {
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
        return GenerationRequest(prompt: prompt, sampling: p, maxTokens: maxTokens, stop: stop?.values ?? [], choices: n ?? 1,
                                 ignoreEndOfTurn: ignoreEOS ?? false)
    }
}

extension APIError {
    /// How an engine refusal reaches the client. `fields` renames the engine's
    /// field names where the request spelled them otherwise (e.g. `max_completion_tokens`).
    public init(_ error: EngineError, fields: [String: String] = [:]) {
        let param = error.parameter.map { fields[$0] ?? $0 }
        switch error {
        case .queueFull:
            self = .overloaded("The server is at capacity: \(error.description).", retryAfterSeconds: 1)
        case .shuttingDown:
            self = .unavailable("The server is shutting down.")
        case .promptTooLong, .exceedsKVBudget:
            self = .invalidRequest(error.description, param: param, code: "context_length_exceeded")
        default:
            var message = error.description
            if let spelled = error.parameter.flatMap({ fields[$0] }) {
                message = message.replacingOccurrences(of: error.parameter!, with: spelled)
            }
            self = .invalidRequest(message, param: param, code: "invalid_value")
        }
    }
}

extension FinishReason {
    /// OpenAI's `finish_reason`. A choice the server cut short never reaches a
    /// client as finished (its stream ends with an error; a whole response is a 503).
    public var openAI: String {
        switch self {
        case .stop, .cancelled: "stop"
        case .length: "length"
        case .error: "error"
        }
    }
}
