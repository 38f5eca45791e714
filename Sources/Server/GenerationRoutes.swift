import Foundation
import Engine
import Metering
import OpenAI

extension APIServer {
    /// Submits the job; a refusal (queue full, context too long) is answered
    /// before any byte of the response, streamed or not. Whatever ran is
    /// billed, and its ledger row is durable before the response is sent.
    func run(_ job: GenerationJob, peer: PeerWatch) throws(APIError) -> HTTPResponse {
        try reserve(job)
        let waiter: GenerationWaiter
        do { waiter = try GenerationWaiter(engine: job.model.engine, parts: job.parts) } catch { throw APIError(error) }
        if job.stream {
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")],
                                body: .stream(EventStream(job: job, waiter: waiter, peer: peer, api: self)))
        }
        let finished = waiter.results(watching: peer).compactMap { $0 }
        guard finished.count == job.parts.count else { throw .server("A generation did not finish.") }
        let charge = job.charge(finished, meter: meter)
        var failure: APIError?
        if let error = finished.compactMap(\.error).first {
            failure = .server("The model failed: \(error)")
        } else if finished.contains(where: { $0.choices.contains { $0.finishReason == .cancelled } }), !peer.hasHungUp {
            failure = .unavailable("The server is shutting down; the request was cancelled.")
        }
        if let failure {
            try record(job.ledgerRow(finished, charge: charge, status: failure.status))
            throw failure
        }
        let body = job.body(finished, charge: charge)
        try record(job.ledgerRow(finished, charge: charge, status: 200, response: body))
        return .json(body, headers: charge?.headers ?? [])
    }
}

/// Server-sent events for a streamed request: a role chunk per choice (chat),
/// a chunk per piece of text, a finishing chunk per choice, the usage chunk
/// when asked for, then `[DONE]`.
final class EventStream: ResponseStream, @unchecked Sendable {  // used by the connection's thread only
    private let job: GenerationJob
    private let waiter: GenerationWaiter
    private let peer: PeerWatch
    private let api: APIServer
    private var started = false
    private var ended = false
    private var results: [GenerationResult?]
    /// Text sent so far per choice (legacy logprobs' text offsets).
    private var sentLength: [Int: Int] = [:]
    private var cancelled = false

    init(job: GenerationJob, waiter: GenerationWaiter, peer: PeerWatch, api: APIServer) {
        self.job = job
        self.waiter = waiter
        self.peer = peer
        self.api = api
        results = Array(repeating: nil, count: job.parts.count)
    }

    func next() -> Data? {
        guard !ended else { return nil }
        if !started {
            started = true
            if let opening = opening() { return opening }
        }
        while true {
            if let (part, event) = waiter.next(timeout: 0.1) {
                switch event {
                case .piece(let piece):
                    if let data = pieceChunk(part: part, piece) { return data }
                case .finished(let result):
                    results[part] = result
                    if let failure = Self.cutShort(result) { return ending(with: failure) }
                    var data = finishChunk(part: part, result)
                    if results.allSatisfy({ $0 != nil }) {
                        data += closing()
                        ended = true
                    }
                    return data
                }
            } else if waiter.isDrained {
                ended = true
                return closing()
            } else if !cancelled, peer.hasHungUp {
                cancelled = true
                waiter.cancel()
            }
        }
    }

    /// The client left before the end: cancel, and bill what was produced.
    func close() {
        guard !ended else { return }
        ended = true
        waiter.cancel()
        for (part, result) in waiter.results(watching: PeerWatch(fd: -1)).enumerated() where result != nil { results[part] = result }
        let finished = results.compactMap { $0 }
        try? api.record(job.ledgerRow(finished, charge: job.charge(finished, meter: api.meter), status: 200))
    }

    private func event<T: Encodable>(_ value: T) -> Data { Data("data: ".utf8) + WireJSON.encode(value) + Data("\n\n".utf8) }

    /// OpenAI's error envelope as the stream's last event: no finish chunk, usage or `[DONE]` pretends the output is whole.
    private func errorEvent(_ error: APIError) -> Data { Data("data: ".utf8) + error.body + Data("\n\n".utf8) }

    /// Why a part ended before its end, if the server (not the client) cut it short.
    static func cutShort(_ result: GenerationResult) -> APIError? {
        if let error = result.error { return .server("The model failed: \(error)") }
        guard result.choices.contains(where: { $0.finishReason == .cancelled }) else { return nil }
        return .unavailable("The server is shutting down; the response was cut short. The tokens produced are billed.")
    }

    /// Ends the stream early: the other parts are cancelled, what ran is billed under the failure's status.
    private func ending(with failure: APIError) -> Data {
        ended = true
        waiter.cancel()
        for (part, result) in waiter.results(watching: PeerWatch(fd: -1)).enumerated() where result != nil { results[part] = result }
        let finished = results.compactMap { $0 }
        // A client that left is billed as before it left (it sees nothing more); a cut the server made carries its status.
        let status = cancelled ? 200 : failure.status
        try? api.record(job.ledgerRow(finished, charge: job.charge(finished, meter: api.meter), status: status))
        return errorEvent(failure)
    }

    private var choiceIndices: [Int] { Array(0..<(job.parts.count * job.choicesPerPart)) }

    /// Chat announces the assistant role; completions with echo send the prompt text first.
    private func opening() -> Data? {
        switch job.kind {
        case .chat:
            return event(ChatCompletionChunk(id: job.responseID, created: job.created, model: job.model.id,
                                             choices: choiceIndices.map { .init(index: $0, delta: .init(role: "assistant", content: "")) }))
        case .completion:
            guard let echo = job.echo else { return nil }
            var data = Data()
            for index in choiceIndices {
                let text = echo[index / job.choicesPerPart]
                sentLength[index] = text.unicodeScalars.count
                data += event(TextCompletion(id: job.responseID, created: job.created, model: job.model.id,
                                             choices: [.init(text: text, index: index, logprobs: nil, finishReason: nil)],
                                             usage: nil, timeInfo: nil))
            }
            return data
        }
    }

    private func pieceChunk(part: Int, _ piece: GeneratedPiece) -> Data? {
        let index = part * job.choicesPerPart + piece.choice
        guard !piece.text.isEmpty || job.logprobs != nil else { return nil }
        switch job.kind {
        case .chat:
            return event(ChatCompletionChunk(id: job.responseID, created: job.created, model: job.model.id, choices: [
                .init(index: index, delta: .init(content: piece.text), logprobs: job.logprobs == nil ? nil : job.chatLogprobs(piece.tokens)),
            ]))
        case .completion:
            let offset = sentLength[index, default: 0]
            sentLength[index] = offset + piece.text.unicodeScalars.count
            let logprobs = job.logprobs == nil ? nil : job.completionLogprobs(piece.tokens, offset: offset)
            return event(TextCompletion(id: job.responseID, created: job.created, model: job.model.id,
                                        choices: [.init(text: piece.text, index: index, logprobs: logprobs, finishReason: nil)],
                                        usage: nil, timeInfo: nil))
        }
    }

    private func finishChunk(part: Int, _ result: GenerationResult) -> Data {
        var data = Data()
        for choice in result.choices {
            let index = part * job.choicesPerPart + choice.index
            let reason = GenerationJob.finishReason(choice.finishReason)
            switch job.kind {
            case .chat:
                data += event(ChatCompletionChunk(id: job.responseID, created: job.created, model: job.model.id,
                                                  choices: [.init(index: index, delta: .init(), finishReason: reason)]))
            case .completion:
                data += event(TextCompletion(id: job.responseID, created: job.created, model: job.model.id,
                                             choices: [.init(text: "", index: index, logprobs: nil, finishReason: reason)],
                                             usage: nil, timeInfo: nil))
            }
        }
        return data
    }

    /// The usage chunk (with an empty choice list, as OpenAI sends it) and
    /// the terminator, once the ledger row is durable; if it cannot be
    /// written, an error event instead of `[DONE]`.
    private func closing() -> Data {
        var data = Data()
        let finished = results.compactMap { $0 }
        let charge = job.charge(finished, meter: api.meter)
        do { try api.record(job.ledgerRow(finished, charge: charge, status: 200)) } catch { return errorEvent(error) }
        if job.includeUsage {
            let usage = job.usage(finished, charge: charge), timeInfo = job.timeInfo(finished)
            switch job.kind {
            case .chat:
                data += event(ChatCompletionChunk(id: job.responseID, created: job.created, model: job.model.id, choices: [],
                                                  usage: usage, timeInfo: timeInfo))
            case .completion:
                data += event(TextCompletion(id: job.responseID, created: job.created, model: job.model.id, choices: [],
                                             usage: usage, timeInfo: timeInfo))
            }
        }
        return data + Data("data: [DONE]\n\n".utf8)
    }
}
