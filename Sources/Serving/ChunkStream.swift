import Foundation
import Engine
import Metering
import OpenAI

/// The events of a streamed request, typed: a role chunk per choice (chat),
/// a chunk per piece of text, a finishing chunk per choice, the usage chunk
/// when asked for, then `done` once the ledger row is durable. A stream the
/// server ends early ends with `failed`. The caller frames them (SSE).
public final class ChunkStream: GenerationStream, @unchecked Sendable {  // used by one thread at a time (the connection's)
    private let plan: GenerationPlan
    private let waiter: GenerationWaiter
    private let service: Service
    private var started = false
    private var ended = false
    private var results: [GenerationResult?]
    /// Text sent so far per choice (legacy logprobs' text offsets).
    private var sentLength: [Int: Int] = [:]
    /// The client left, and the request was cancelled for it.
    private var clientLeft = false
    /// Per choice of a tools request: what its deltas have sent.
    private var toolDeltas: [Int: ToolCallDeltas] = [:]

    public let requestID: String

    init(plan: GenerationPlan, waiter: GenerationWaiter, service: Service) {
        self.plan = plan
        self.waiter = waiter
        self.service = service
        requestID = plan.id
        results = Array(repeating: nil, count: plan.parts.count)
    }

    /// The next events, waiting for the engine; nil once the stream has ended.
    public func next() -> [StreamEvent]? {
        guard !ended else { return nil }
        if !started {
            started = true
            let opening = opening()
            if !opening.isEmpty { return opening }
        }
        while true {
            _ = waiter.checkDeadline()
            if let (part, event) = waiter.next(timeout: 0.1) {
                switch event {
                case .piece(let piece):
                    if let chunk = pieceChunk(part: part, piece) { return [chunk] }
                case .finished(let result):
                    results[part] = result
                    if let failure = service.cutShort([result], clientLeft: false, timedOut: waiter.timedOut) { return [ending(with: failure)] }
                    var events = finishChunks(part: part, result)
                    if results.allSatisfy({ $0 != nil }) {
                        events += closing()
                        ended = true
                    }
                    return events
                }
            } else if waiter.isDrained {
                ended = true
                return closing()
            } else if !clientLeft, plan.context.client.hasLeft {
                clientLeft = true
                waiter.cancel()
            }
        }
    }

    /// The client left before the end: cancel, and bill what was produced.
    public func close() {
        guard !ended else { return }
        ended = true
        waiter.cancel()
        collect()
        let finished = results.compactMap { $0 }
        try? service.record(plan.ledgerRow(finished, charge: plan.charge(finished, meter: service.meter), status: 200))
    }

    /// Waits for every part's end (after a cancel) and keeps the results.
    private func collect() {
        for (part, result) in waiter.results(watching: AlwaysPresent()).enumerated() where result != nil { results[part] = result }
    }

    /// Ends the stream early: the other parts are cancelled, what ran is billed under the failure's status.
    private func ending(with failure: APIError) -> StreamEvent {
        ended = true
        waiter.cancel()
        collect()
        let finished = results.compactMap { $0 }
        // A client that left is billed as before it left (it sees nothing more); a cut the server made carries its status.
        let status = clientLeft ? 200 : failure.status
        try? service.record(plan.ledgerRow(finished, charge: plan.charge(finished, meter: service.meter), status: status))
        return .failed(failure)
    }

    private var choiceIndices: Range<Int> { 0..<(plan.parts.count * plan.choicesPerPart) }

    private func chatChunk(_ choices: [ChatCompletionChunk.Choice], usage: Usage? = nil, timeInfo: TimeInfo? = nil) -> StreamEvent {
        .chat(ChatCompletionChunk(id: plan.responseID, created: plan.created, model: plan.model.id, choices: choices, usage: usage,
                                  timeInfo: timeInfo))
    }

    private func textChunk(_ choices: [TextCompletion.Choice], usage: Usage? = nil, timeInfo: TimeInfo? = nil) -> StreamEvent {
        .text(TextCompletion(id: plan.responseID, created: plan.created, model: plan.model.id, choices: choices, usage: usage,
                             timeInfo: timeInfo))
    }

    /// Chat announces the assistant role; completions with echo send the prompt text first.
    private func opening() -> [StreamEvent] {
        switch plan.kind {
        case .chat:
            return [chatChunk(choiceIndices.map { .init(index: $0, delta: .init(role: "assistant", content: "")) })]
        case .completion:
            guard let echo = plan.echo else { return [] }
            return choiceIndices.map { index in
                let text = echo[index / plan.choicesPerPart]
                sentLength[index] = text.unicodeScalars.count
                return textChunk([.init(text: text, index: index, logprobs: nil, finishReason: nil)])
            }
        }
    }

    private func pieceChunk(part: Int, _ piece: GeneratedPiece) -> StreamEvent? {
        let index = part * plan.choicesPerPart + piece.choice
        guard !piece.text.isEmpty || plan.logprobs != nil else { return nil }
        if let tools = plan.tools {
            let (content, calls) = toolDeltas[index, default: ToolCallDeltas()].advance(piece.text, tools: tools) {
                ToolUse.callID(plan.toolCallPrefix(index), $0)
            }
            return toolChunk(index: index, content: content, calls: calls)
        }
        switch plan.kind {
        case .chat:
            return chatChunk([.init(index: index, delta: .init(content: piece.text),
                                    logprobs: plan.logprobs == nil ? nil : plan.chatLogprobs(piece.tokens))])
        case .completion:
            let offset = sentLength[index, default: 0]
            sentLength[index] = offset + piece.text.unicodeScalars.count
            let logprobs = plan.logprobs == nil ? nil : plan.completionLogprobs(piece.tokens, offset: offset)
            return textChunk([.init(text: piece.text, index: index, logprobs: logprobs, finishReason: nil)])
        }
    }

    /// A tools request's content and call deltas for one choice, if any.
    private func toolChunk(index: Int, content: String?, calls: [ChatCompletionChunk.ToolCallDelta]) -> StreamEvent? {
        guard content != nil || !calls.isEmpty else { return nil }
        return chatChunk([.init(index: index, delta: .init(content: content, toolCalls: calls.isEmpty ? nil : calls))])
    }

    private func finishChunks(part: Int, _ result: GenerationResult) -> [StreamEvent] {
        result.choices.flatMap { choice -> [StreamEvent] in
            let index = part * plan.choicesPerPart + choice.index
            if let tools = plan.tools {
                let (_, reason) = plan.chatMessage(choice, index: index)
                let (content, calls) = toolDeltas[index, default: ToolCallDeltas()].finish(choice.text, tools: tools) {
                    ToolUse.callID(plan.toolCallPrefix(index), $0)
                }
                return [toolChunk(index: index, content: content, calls: calls),
                        chatChunk([.init(index: index, delta: .init(), finishReason: reason)])].compactMap { $0 }
            }
            switch plan.kind {
            case .chat: return [chatChunk([.init(index: index, delta: .init(), finishReason: choice.finishReason.openAI)])]
            case .completion: return [textChunk([.init(text: "", index: index, logprobs: nil, finishReason: choice.finishReason.openAI)])]
            }
        }
    }

    /// The usage chunk (with an empty choice list, as OpenAI sends it) and
    /// `done`, once the ledger row is durable; if it cannot be written, `failed` instead.
    private func closing() -> [StreamEvent] {
        let finished = results.compactMap { $0 }
        let charge = plan.charge(finished, meter: service.meter)
        do { try service.record(plan.ledgerRow(finished, charge: charge, status: 200)) } catch { return [.failed(error)] }
        service.countLocal(tokens: charge?.totalTokens ?? finished.reduce(0) { $0 + $1.usage.totalTokens })
        guard plan.includeUsage else { return [.done] }
        let usage = plan.usage(finished, charge: charge), timeInfo = plan.timeInfo(finished)
        switch plan.kind {
        case .chat: return [chatChunk([], usage: usage, timeInfo: timeInfo), .done]
        case .completion: return [textChunk([], usage: usage, timeInfo: timeInfo), .done]
        }
    }
}
