import Foundation
import Engine
import Metering
import OpenAI

/// One chat or completion request, turned into engine requests (one per
/// prompt, each with `n` choices) plus what the response needs to know.
struct GenerationPlan {
    enum Kind { case chat, completion }

    let kind: Kind
    let model: ServedModel
    let context: RequestContext
    let endpoint: Endpoint
    private(set) var parts: [GenerationRequest]
    let choicesPerPart: Int
    let stream: Bool
    let includeUsage: Bool
    /// Alternatives per token when logprobs were asked for; nil otherwise.
    let logprobs: Int?
    /// Completions with `echo`: each part's prompt text, put before its choices' text.
    let echo: [String]?
    /// Chat with tools: how calls are parsed out of each choice.
    var tools: ToolUse?
    let created = Int(Date().timeIntervalSince1970)

    var id: String { context.id }
    var caller: Caller { context.caller }
    var responseID: String { (kind == .chat ? "chatcmpl-" : "cmpl-") + id }

    init(kind: Kind, model: ServedModel, context: RequestContext, parts: [GenerationRequest], fields: GenerationFields,
         logprobs: Int?, echo: [String]?, route: Endpoint? = nil) {
        self.kind = kind
        self.model = model
        self.context = context
        endpoint = route ?? (kind == .chat ? .chatCompletions : .completions)
        // Batch lines run behind interactive requests.
        self.parts = parts.map { var p = $0; p.isBackground = context.batchLine != nil; return p }
        choicesPerPart = parts[0].choices
        stream = fields.stream ?? false
        includeUsage = fields.streamOptions?.includeUsage ?? false
        self.logprobs = logprobs
        self.echo = echo
    }

    /// Every part checked against the server's limits and the engine's own rules, before anything
    /// is metered or queued. `fields`: the engine's names for what this request spelled otherwise.
    static func validate(_ parts: [GenerationRequest], on model: ServedModel, limits: RequestLimits, promptField: String,
                         fields: [String: String]) throws(APIError) {
        for part in parts {
            try limits.check(part, promptField: promptField)
            do { try model.engine.validate(part) } catch { throw APIError(error, fields: fields) }
        }
    }

    static func chat(_ request: ChatCompletionRequest, model: ServedModel, limits: RequestLimits, context: RequestContext,
                     route: Endpoint = .chatCompletions) throws(APIError) -> GenerationPlan {
        if request.topLogprobs != nil, request.logprobs != true {
            throw .invalidRequest("top_logprobs needs logprobs set to true.", param: "top_logprobs", code: "invalid_value")
        }
        let topLogprobs = request.logprobs == true ? (request.topLogprobs ?? 0) : nil
        let tools = try ToolUse(request)
        var part = try request.fields.generationRequest(prompt: try model.chatPrompt(request.messages, tools: tools), topLogprobs: topLogprobs)
        if let callSchema = tools?.callSchema {
            // `required` or a named function: the answer is one call, its arguments following the tool's schema.
            part.constraint = try ResponseFormat(type: .jsonSchema, jsonSchema: .init(name: "tool_call", schema: callSchema, strict: true))
                .constraint(model.tokenBytes, param: "tools")
        } else if let format = request.responseFormat, format.type != .text {
            part.constraint = try format.constraint(model.tokenBytes)
        } else {
            part.constraint = try tools?.autoConstraint(model.tokenBytes, templateRendersTools: model.template?.rendersTools == true)
        }
        try validate([part], on: model, limits: limits, promptField: "messages", fields: ["max_tokens": request.fields.maxTokensField])
        var plan = GenerationPlan(kind: .chat, model: model, context: context, parts: [part], fields: request.fields,
                                  logprobs: topLogprobs, echo: nil, route: route)
        plan.tools = tools
        return plan
    }

    static func completion(_ request: CompletionRequest, model: ServedModel, limits: RequestLimits,
                           context: RequestContext) throws(APIError) -> GenerationPlan {
        let prompts: [[Int32]]
        let texts: [String]
        switch request.prompt {
        case .texts(let strings):
            prompts = strings.map { model.tokenizer.encode($0) }
            texts = strings
        case .tokens(let arrays):
            prompts = arrays
            texts = arrays.map { model.tokenizer.decode($0) }
        }
        guard !prompts.isEmpty else { throw .invalidRequest("prompt must not be empty.", param: "prompt", code: "invalid_value") }
        guard prompts.count <= 128 else { throw .invalidRequest("prompt may hold at most 128 prompts.", param: "prompt", code: "invalid_value") }
        let constraint = try request.responseFormat.flatMap { (format) throws(APIError) in try format.constraint(model.tokenBytes) }
        let parts = try prompts.map { (p: [Int32]) throws(APIError) in
            var part = try request.fields.generationRequest(prompt: p, topLogprobs: request.logprobs)
            part.constraint = constraint
            return part
        }
        try validate(parts, on: model, limits: limits, promptField: "prompt",
                     fields: ["max_tokens": request.fields.maxTokensField, "top_logprobs": "logprobs"])
        return GenerationPlan(kind: .completion, model: model, context: context, parts: parts, fields: request.fields,
                              logprobs: request.logprobs, echo: request.echo == true ? texts : nil)
    }

    // MARK: Building responses

    /// Prompt tokens billed: the finished parts', or before any has run (the reserved row) every part's.
    func promptTokens(_ results: [GenerationResult]) -> Int {
        results.isEmpty ? parts.reduce(0) { $0 + $1.prompt.count } : results.reduce(0) { $0 + $1.usage.promptTokens }
    }

    func usage(_ results: [GenerationResult], charge: Charge?) -> Usage {
        Usage(promptTokens: promptTokens(results),
              completionTokens: results.reduce(0) { $0 + $1.usage.completionTokens },
              cachedTokens: results.reduce(0) { $0 + $1.usage.cachedPromptTokens },
              costUsd: charge?.cost, priceUsdPerMtok: charge?.ratePerMillion)
    }

    /// What the finished parts are billed: every prompt token and every token generated.
    func charge(_ results: [GenerationResult], meter: Meter?) -> Charge? {
        meter?.charge(model: model.id, caller: caller, promptTokens: promptTokens(results),
                      completionTokens: results.reduce(0) { $0 + $1.usage.completionTokens })
    }

    /// The request's ledger row; `response` is kept for batch lines (a resumed line reuses it).
    func ledgerRow(_ results: [GenerationResult], charge: Charge?, status: Int, outcome: RequestOutcome? = nil,
                   response: Data? = nil) -> LedgerRow {
        let usage = usage(results, charge: charge), time = timeInfo(results)
        let reasons = results.flatMap { $0.choices.map(\.finishReason) }
        let ended = results.contains { $0.error != nil } ? FinishReason.error
            : reasons.contains(.cancelled) ? .cancelled : reasons.first ?? .error
        return LedgerRow(requestID: id, createdAt: time.created, keyName: caller.name, tier: caller.tier.rawValue, model: model.id,
                         route: endpoint.rawValue, status: status, promptTokens: usage.promptTokens,
                         cachedTokens: usage.promptTokensDetails.cachedTokens, completionTokens: usage.completionTokens,
                         ratePerMillion: charge?.promptRatePerMillion ?? 0, costUSD: charge?.cost ?? 0,
                         timeToFirstToken: results.compactMap(\.timing.timeToFirstToken).min(), duration: time.totalTime,
                         outcome: outcome ?? RequestOutcome(ended), batchID: context.batchLine?.batchID,
                         customID: context.batchLine?.customID,
                         response: context.batchLine == nil ? nil : response.map { String(decoding: $0, as: UTF8.self) })
    }

    /// The parts ran side by side, so the request's times are the longest of theirs.
    func timeInfo(_ results: [GenerationResult]) -> TimeInfo {
        TimeInfo(queueTime: results.map(\.timing.queue).max() ?? 0, promptTime: results.map(\.timing.prompt).max() ?? 0,
                 completionTime: results.map(\.timing.completion).max() ?? 0, totalTime: results.map(\.timing.total).max() ?? 0,
                 created: results.map(\.timing.created).min() ?? Date().timeIntervalSince1970)
    }

    /// Chat logprobs for sampled tokens; end-of-turn and other control tokens are not part of the content.
    func chatLogprobs(_ tokens: [SampledToken]) -> ChatLogprobs {
        ChatLogprobs(content: tokens.filter { !model.tokenizer.isControl($0.id) }.map { token in
            let (text, bytes) = model.describe(token.id)
            return TokenLogprobInfo(token: text, logprob: token.logprob ?? 0, bytes: bytes, topLogprobs: token.topLogprobs.map { alt in
                let (t, b) = model.describe(alt.id)
                return TokenLogprobInfo.Alternative(token: t, logprob: alt.logprob, bytes: b)
            })
        })
    }

    /// Legacy completions logprobs; `offset` is where the tokens' text starts in the choice's text.
    func completionLogprobs(_ tokens: [SampledToken], offset: Int) -> CompletionLogprobs {
        var l = CompletionLogprobs()
        var position = offset
        for token in tokens where !model.tokenizer.isControl(token.id) {
            let text = model.describe(token.id).text
            l.tokens.append(text)
            l.tokenLogprobs.append(token.logprob ?? 0)
            l.topLogprobs.append(Dictionary(token.topLogprobs.map { (model.describe($0.id).text, $0.logprob) }, uniquingKeysWith: max))
            l.textOffset.append(position)
            position += text.unicodeScalars.count
        }
        return l
    }

    /// A chat choice's message and finish reason: with tools, the calls parsed out of its text.
    func chatMessage(_ c: ChoiceResult, index: Int) -> (ChatCompletion.Message, String) {
        guard let tools else { return (.init(content: c.text), c.finishReason.openAI) }
        let (content, calls) = tools.parse(c.text, id: toolCallPrefix(index))
        guard !calls.isEmpty else { return (.init(content: c.text), c.finishReason.openAI) }
        // Complete calls before a cut are calls; the reason still says the answer was cut.
        return (.init(content: content, toolCalls: calls), c.finishReason == .length ? "length" : "tool_calls")
    }

    /// What the ids of choice `index`'s calls start with.
    func toolCallPrefix(_ index: Int) -> String { "\(id)_\(index)" }

    /// The whole response of a non-streamed request.
    func body(_ results: [GenerationResult], charge: Charge?) -> ResponseBody {
        let usage = usage(results, charge: charge), timeInfo = timeInfo(results)
        switch kind {
        case .chat:
            let choices = results.enumerated().flatMap { p, result in
                result.choices.map { c in
                    let index = p * choicesPerPart + c.index
                    let (message, reason) = chatMessage(c, index: index)
                    return ChatCompletion.Choice(index: index, message: message, logprobs: logprobs == nil ? nil : chatLogprobs(c.tokens),
                                                 finishReason: reason)
                }
            }
            return .chat(ChatCompletion(id: responseID, created: created, model: model.id, choices: choices, usage: usage,
                                        timeInfo: timeInfo))
        case .completion:
            let choices = results.enumerated().flatMap { p, result in
                result.choices.map { c in
                    let prefix = echo?[p] ?? ""
                    return TextCompletion.Choice(text: prefix + c.text, index: p * choicesPerPart + c.index,
                                                 logprobs: logprobs == nil ? nil
                                                     : completionLogprobs(c.tokens, offset: prefix.unicodeScalars.count),
                                                 finishReason: c.finishReason.openAI)
                }
            }
            return .text(TextCompletion(id: responseID, created: created, model: model.id, choices: choices, usage: usage,
                                        timeInfo: timeInfo))
        }
    }
}
