import Foundation
import Metering
import OpenAI
import Upstream

/// The seed's third pattern: everything runs on the flat-priced local engine
/// until its queue is deeper than `queueDepth`; then new requests go to an
/// OpenAI-compatible upstream, billed at its split rates.
public struct OverflowRoute: Sendable {
    public let client: UpstreamClient
    /// More than this many sequences waiting locally sends a new request upstream; 0 sends every request.
    public let queueDepth: Int
    /// The model name sent upstream; nil sends the request's own.
    public let model: String?

    public init(client: UpstreamClient, queueDepth: Int, model: String?) {
        self.client = client
        self.queueDepth = queueDepth
        self.model = model
    }

    func takes(waiting: Int) -> Bool { queueDepth == 0 || waiting > queueDepth }
}

/// A generation request as the upstream gets it, and how its answer is re-framed as Wafer's.
enum UpstreamRequest {
    case chat(ChatCompletionRequest)
    case completion(CompletionRequest)

    var endpoint: Endpoint {
        switch self {
        case .chat: .chatCompletions
        case .completion: .completions
        }
    }

    var fields: GenerationFields {
        switch self {
        case .chat(let r): r.fields
        case .completion(let r): r.fields
        }
    }

    /// Always streamed upstream, with usage: the first byte then means the first token, and one parser serves both.
    func body(model: String?) -> Data {
        var fields = self.fields
        fields.stream = true
        fields.streamOptions = .init(includeUsage: true)
        switch self {
        case .chat(var r):
            r.fields = fields
            r.model = model ?? r.model
            return WireJSON.encode(r)
        case .completion(var r):
            r.fields = fields
            r.model = model ?? r.model
            return WireJSON.encode(r)
        }
    }

    /// The path under the upstream's base URL (`.../v1`).
    var path: String { endpoint == .chatCompletions ? "/chat/completions" : "/completions" }
}

/// The parts of an upstream chunk Wafer passes on.
struct UpstreamChunk: Decodable {
    struct Choice: Decodable {
        struct Delta: Decodable {
            let role: String?
            let content: String?
        }
        let index: Int?
        let delta: Delta?
        let text: String?
        let finishReason: String?
        enum CodingKeys: String, CodingKey { case index, delta, text, finishReason = "finish_reason" }
    }
    struct Usage: Decodable {
        let promptTokens: Int
        let completionTokens: Int
        enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens" }
    }
    let choices: [Choice]?
    let usage: Usage?

    static func decode(_ data: Data) -> UpstreamChunk? { try? JSONDecoder().decode(UpstreamChunk.self, from: data) }
}

/// An upstream answer as it accumulates: each choice's text and finish reason, and the upstream's usage.
struct UpstreamAnswer {
    var texts: [Int: String] = [:]
    var finishReasons: [Int: String] = [:]
    var usage: UpstreamChunk.Usage?

    mutating func add(_ chunk: UpstreamChunk) {
        for choice in chunk.choices ?? [] {
            let index = choice.index ?? 0
            texts[index, default: ""] += choice.delta?.content ?? choice.text ?? ""
            if let reason = choice.finishReason { finishReasons[index] = reason }
        }
        if let usage = chunk.usage { self.usage = usage }
    }
}

/// Serving a request upstream: the call, its re-framing as Wafer's responses, its charge and ledger row.
struct UpstreamServing {
    let request: UpstreamRequest
    /// What the ledger row names: the client's route, which may differ from the upstream's.
    let route: Endpoint
    let model: ServedModel
    let context: RequestContext
    let meter: Meter?
    let call: UpstreamCall
    let created = Int(Date().timeIntervalSince1970)

    var responseID: String { (request.endpoint == .chatCompletions ? "chatcmpl-" : "cmpl-") + context.id }

    /// Tokens billed: the upstream's own count, or ours with the model's tokenizer when it sent none.
    func tokens(_ answer: UpstreamAnswer) -> (prompt: Int, completion: Int) {
        if let usage = answer.usage { return (usage.promptTokens, usage.completionTokens) }
        let prompt: Int
        switch request {
        case .chat(let r): prompt = (try? model.chatPrompt(r.messages))?.count ?? 0
        case .completion(let r):
            switch r.prompt {
            case .texts(let texts): prompt = texts.reduce(0) { $0 + model.tokenizer.encode($1).count }
            case .tokens(let ids): prompt = ids.reduce(0) { $0 + $1.count }
            }
        }
        let completion = answer.texts.values.reduce(0) { $0 + model.tokenizer.encode($1, addBOS: false).count }
        return (prompt, completion)
    }

    func charge(_ answer: UpstreamAnswer) -> Charge? {
        let t = tokens(answer)
        return meter?.upstreamCharge(caller: context.caller, promptTokens: t.prompt, completionTokens: t.completion)
    }

    func usage(_ answer: UpstreamAnswer, _ charge: Charge?) -> Usage {
        let t = tokens(answer)
        var usage = Usage(promptTokens: t.prompt, completionTokens: t.completion, cachedTokens: 0, costUsd: charge?.cost,
                          priceUsdPerMtok: charge?.ratePerMillion)
        usage.promptPriceUsdPerMtok = charge?.promptRatePerMillion
        usage.completionPriceUsdPerMtok = charge?.completionRatePerMillion
        return usage
    }

    var timeInfo: TimeInfo {
        let first = call.timeToFirstEvent ?? call.elapsed, total = call.elapsed
        return TimeInfo(queueTime: 0, promptTime: first, completionTime: total - first, totalTime: total,
                        created: Date().timeIntervalSince1970 - total)
    }

    func ledgerRow(_ answer: UpstreamAnswer, status: Int, outcome: RequestOutcome, response: Data? = nil) -> LedgerRow {
        let charge = charge(answer), t = tokens(answer), time = timeInfo
        return LedgerRow(requestID: context.id, createdAt: time.created, keyName: context.caller.name, tier: context.caller.tier.rawValue,
                         model: model.id, route: route.rawValue, status: status, promptTokens: t.prompt, cachedTokens: 0,
                         completionTokens: t.completion, ratePerMillion: charge?.promptRatePerMillion ?? 0, costUSD: charge?.cost ?? 0,
                         timeToFirstToken: call.timeToFirstEvent, duration: time.totalTime, outcome: outcome,
                         batchID: context.batchLine?.batchID, customID: context.batchLine?.customID,
                         response: context.batchLine == nil ? nil : response.map { String(decoding: $0, as: UTF8.self) },
                         servedBy: .fallback, upstream: meter?.prices.upstream.name,
                         completionRatePerMillion: charge?.completionRatePerMillion)
    }

    static func outcome(_ answer: UpstreamAnswer) -> RequestOutcome {
        answer.finishReasons.values.contains("length") ? .length : .stop
    }

    /// The whole answer as Wafer's response body.
    func body(_ answer: UpstreamAnswer, _ charge: Charge?) -> ResponseBody {
        let indices = answer.texts.keys.sorted()
        switch request {
        case .chat:
            let choices = indices.map {
                ChatCompletion.Choice(index: $0, message: .init(content: answer.texts[$0] ?? ""), logprobs: nil,
                                      finishReason: answer.finishReasons[$0] ?? "stop")
            }
            return .chat(ChatCompletion(id: responseID, created: created, model: model.id, choices: choices, usage: usage(answer, charge),
                                        timeInfo: timeInfo))
        case .completion:
            let choices = indices.map {
                TextCompletion.Choice(text: answer.texts[$0] ?? "", index: $0, logprobs: nil, finishReason: answer.finishReasons[$0] ?? "stop")
            }
            return .text(TextCompletion(id: responseID, created: created, model: model.id, choices: choices, usage: usage(answer, charge),
                                        timeInfo: timeInfo))
        }
    }

    /// An upstream chunk as Wafer's chunk (its id, its model name); nil when it carries no choice.
    func chunk(_ upstream: UpstreamChunk) -> StreamEvent? {
        guard let choices = upstream.choices, !choices.isEmpty else { return nil }
        switch request {
        case .chat:
            return .chat(ChatCompletionChunk(id: responseID, created: created, model: model.id, choices: choices.map {
                .init(index: $0.index ?? 0, delta: .init(role: $0.delta?.role, content: $0.delta?.content), finishReason: $0.finishReason)
            }))
        case .completion:
            return .text(TextCompletion(id: responseID, created: created, model: model.id, choices: choices.map {
                .init(text: $0.text ?? "", index: $0.index ?? 0, logprobs: nil, finishReason: $0.finishReason)
            }, usage: nil, timeInfo: nil))
        }
    }

    func usageChunk(_ answer: UpstreamAnswer, _ charge: Charge?) -> StreamEvent {
        switch request {
        case .chat:
            .chat(ChatCompletionChunk(id: responseID, created: created, model: model.id, choices: [], usage: usage(answer, charge),
                                      timeInfo: timeInfo))
        case .completion:
            .text(TextCompletion(id: responseID, created: created, model: model.id, choices: [], usage: usage(answer, charge),
                                 timeInfo: timeInfo))
        }
    }
}

extension Service {
    /// The request served upstream, when the local queue is deep enough to send it there. Nil serves it
    /// locally: the queue is short, or the upstream failed before its first byte and the local queue has
    /// room; without room that failure is a 503.
    func overflowing(_ request: UpstreamRequest, route: Endpoint, model: ServedModel, context: RequestContext) throws(APIError) -> Generation? {
        guard let overflow, overflow.takes(waiting: model.engine.waitingSequences) else { return nil }
        if let meter {  // reserved before the call, as locally: no output without a row
            let u = meter.prices.upstream
            do {
                try meter.ledger.record(emptyRow(route, model: model, context: context, status: 0, outcome: .running,
                                                 rate: u.promptPerMillion, servedBy: .fallback, upstream: u.name))
            } catch { throw Self.ledgerUnavailable("\(error)") }
        }
        let call = UpstreamCall(client: overflow.client, path: request.path, body: request.body(model: overflow.model))
        let serving = UpstreamServing(request: request, route: route, model: model, context: context, meter: meter, call: call)
        var failure = call.awaitFirst()
        var first = failure == nil ? call.next() : nil
        if failure == nil, first.flatMap(UpstreamChunk.decode) == nil {
            call.cancel()
            failure = UpstreamError(kind: .malformed, status: nil, message: "the first chunk is not JSON", beforeFirstByte: true)
            first = nil
        }
        if let failure {
            countUpstream(error: failure)
            let waiting = model.engine.waitingSequences
            guard waiting < model.engine.limits.maxQueue else {
                throw .unavailable("The local queue is full and the upstream failed (\(failure)); retry shortly.")
            }
            return nil
        }
        lock.withLock { routes.upstreamFirstEvent.observe(call.timeToFirstEvent ?? 0) }
        let events = UpstreamChunkStream(serving, first: first!, service: self)
        guard request.fields.stream != true else { return .streaming(events) }
        // Not streamed: gather the answer, then answer whole (a failure now is the request's, as locally).
        var answer = UpstreamAnswer()
        var data = first
        while let chunkData = data {
            guard let chunk = UpstreamChunk.decode(chunkData) else {
                call.cancel()
                return try answerFailed(serving, answer, UpstreamError(kind: .malformed, status: nil, message: "a chunk that is not JSON",
                                                                       beforeFirstByte: false))
            }
            answer.add(chunk)
            data = call.next()
        }
        if let failure = call.endFailure { return try answerFailed(serving, answer, failure) }
        let charge = serving.charge(answer)
        let body = serving.body(answer, charge)
        let json = WireJSON.encode(body)
        countUpstream(answer: answer, serving: serving)
        try record(serving.ledgerRow(answer, status: 200, outcome: UpstreamServing.outcome(answer), response: json))
        return .completed(CompletedResponse(body: body, json: json, charge: charge))
    }

    private func answerFailed(_ serving: UpstreamServing, _ answer: UpstreamAnswer, _ failure: UpstreamError) throws(APIError) -> Generation {
        countUpstream(error: failure)
        countUpstream(answer: answer, serving: serving)
        try record(serving.ledgerRow(answer, status: 502, outcome: .error))
        var error = APIError(status: 502, type: "server_error", message: "The upstream failed (\(failure)).", code: "upstream_error")
        error.isMetered = true
        throw error
    }

    func countUpstream(error: UpstreamError) { lock.withLock { routes.upstreamErrors[error.kind.rawValue, default: 0] += 1 } }

    func countUpstream(answer: UpstreamAnswer, serving: UpstreamServing) {
        let t = serving.tokens(answer)
        lock.withLock { routes.count(.fallback, tokens: t.prompt + t.completion) }
    }
}
