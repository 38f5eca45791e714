import Foundation
import OpenAI
import Upstream

/// An upstream stream, re-framed chunk by chunk as Wafer's own; its usage
/// chunk carries Wafer's cost, and its ledger row is durable before `done`.
final class UpstreamChunkStream: GenerationStream, @unchecked Sendable {  // used by the connection's thread only
    private let serving: UpstreamServing
    private let service: Service
    private var answer = UpstreamAnswer()
    private var pending: [Data]
    private var ended = false

    init(_ serving: UpstreamServing, first: Data, service: Service) {
        self.serving = serving
        self.service = service
        pending = [first]
    }

    func next() -> [StreamEvent]? {
        guard !ended else { return nil }
        while true {
            guard let data = pending.popLast() ?? serving.call.next() else { return finish() }
            guard let chunk = UpstreamChunk.decode(data) else {
                serving.call.cancel()
                return fail(UpstreamError(kind: .malformed, status: nil, message: "a chunk that is not JSON", beforeFirstByte: false))
            }
            answer.add(chunk)
            if let event = serving.chunk(chunk) { return [event] }
        }
    }

    func close() {
        guard !ended else { return }
        ended = true
        serving.call.cancel()
        try? service.record(serving.ledgerRow(answer, status: 200, outcome: .cancelled))
        service.countUpstream(answer: answer, serving: serving)
    }

    private func finish() -> [StreamEvent] {
        if let failure = serving.call.endFailure { return fail(failure) }
        ended = true
        let charge = serving.charge(answer)
        service.countUpstream(answer: answer, serving: serving)
        do { try service.record(serving.ledgerRow(answer, status: 200, outcome: UpstreamServing.outcome(answer))) } catch {
            return [.failed(error)]
        }
        return serving.request.fields.streamOptions?.includeUsage == true ? [serving.usageChunk(answer, charge), .done] : [.done]
    }

    /// The upstream failed mid-stream: the client gets an error event, the ledger a row for what was delivered.
    private func fail(_ failure: UpstreamError) -> [StreamEvent] {
        ended = true
        service.countUpstream(error: failure)
        service.countUpstream(answer: answer, serving: serving)
        let error = APIError(status: 502, type: "server_error", message: "The upstream failed mid-stream (\(failure)); the text so far is billed.",
                             code: "upstream_error")
        try? service.record(serving.ledgerRow(answer, status: 502, outcome: .error))
        return [.failed(error)]
    }
}
