import Foundation

// Requests encode back to OpenAI's JSON (the fields Wafer understood; unknown
// ones were dropped on decoding): what the overflow route sends upstream.

extension GenerationFields: Encodable {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(maxTokens, forKey: maxTokensField == "max_tokens" ? .maxTokens : .maxCompletionTokens)
        try c.encodeIfPresent(temperature, forKey: .temperature)
        try c.encodeIfPresent(topP, forKey: .topP)
        try c.encodeIfPresent(n, forKey: .n)
        try c.encodeIfPresent(stream, forKey: .stream)
        try c.encodeIfPresent(streamOptions, forKey: .streamOptions)
        try c.encodeIfPresent(stop?.values, forKey: .stop)
        try c.encodeIfPresent(seed, forKey: .seed)
        try c.encodeIfPresent(presencePenalty, forKey: .presencePenalty)
        try c.encodeIfPresent(frequencyPenalty, forKey: .frequencyPenalty)
        try c.encodeIfPresent(logitBias, forKey: .logitBias)
        try c.encodeIfPresent(user, forKey: .user)
        try c.encodeIfPresent(topK, forKey: .topK)
        try c.encodeIfPresent(minP, forKey: .minP)
        try c.encodeIfPresent(repeatPenalty, forKey: .repeatPenalty)
        try c.encodeIfPresent(repeatLastN, forKey: .repeatLastN)
        try c.encodeIfPresent(ignoreEOS, forKey: .ignoreEOS)
    }
}

extension GenerationFields.StreamOptions: Encodable {
    public init(includeUsage: Bool) { self.includeUsage = includeUsage }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(includeUsage, forKey: .includeUsage)
    }
}

extension ChatCompletionRequest: Encodable {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(messages, forKey: .messages)
        try c.encodeIfPresent(logprobs, forKey: .logprobs)
        try c.encodeIfPresent(topLogprobs, forKey: .topLogprobs)
        try c.encodeIfPresent(responseFormat, forKey: .responseFormat)
        try c.encodeIfPresent(tools, forKey: .tools)
        try c.encodeIfPresent(toolChoice, forKey: .toolChoice)
        try c.encodeIfPresent(parallelToolCalls, forKey: .parallelToolCalls)
        try fields.encode(to: encoder)
    }
}

extension ChatCompletionRequest.Message: Encodable {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(role, forKey: .role)
        try c.encode(content, forKey: .content)
        try c.encodeIfPresent(toolCalls, forKey: .toolCalls)
        try c.encodeIfPresent(toolCallID, forKey: .toolCallID)
        try c.encodeIfPresent(name, forKey: .name)
    }
}

extension CompletionRequest: Encodable {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        switch prompt {
        case .texts(let texts): try c.encode(texts, forKey: .prompt)
        case .tokens(let ids): try c.encode(ids, forKey: .prompt)
        }
        try c.encodeIfPresent(echo, forKey: .echo)
        try c.encodeIfPresent(logprobs, forKey: .logprobs)
        try c.encodeIfPresent(responseFormat, forKey: .responseFormat)
        try fields.encode(to: encoder)
    }
}
