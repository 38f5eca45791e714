import Foundation
import Upstream

/// One streamed call to the upstream, run on its own thread so that the
/// caller can wait for the first event (and fall back if none comes) and
/// then pull the rest as they arrive.
final class UpstreamCall: @unchecked Sendable {  // all state under `condition`
    private let condition = NSCondition()
    private var events: [Data] = []
    private var ended = false
    private var failure: UpstreamError?
    private var cancelled = false
    private let started = DispatchTime.now().uptimeNanoseconds
    /// Seconds from the call to its first event (nil before it).
    private(set) var timeToFirstEvent: Double?

    init(client: UpstreamClient, path: String, body: Data) {
        Thread.detachNewThread { [self] in
            var error: UpstreamError?
            do throws(UpstreamError) {
                try client.stream(path, body: body) { data in
                    condition.lock()
                    defer { condition.unlock() }
                    if timeToFirstEvent == nil { timeToFirstEvent = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
                    events.append(data)
                    condition.broadcast()
                    return !cancelled
                }
            } catch let e { error = e }
            condition.lock()
            ended = true
            failure = cancelled ? nil : error
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Waits until the first event has arrived or the call has ended; the error if it ended without one.
    func awaitFirst() -> UpstreamError? {
        condition.lock()
        defer { condition.unlock() }
        while events.isEmpty, !ended { condition.wait() }
        return events.isEmpty ? failure ?? UpstreamError(kind: .malformed, status: nil, message: "no event before [DONE]",
                                                         beforeFirstByte: true) : nil
    }

    /// The next event's JSON, waiting for it; nil at the end (then `endFailure` says how it ended).
    func next() -> Data? {
        condition.lock()
        defer { condition.unlock() }
        while events.isEmpty, !ended { condition.wait() }
        return events.isEmpty ? nil : events.removeFirst()
    }

    var endFailure: UpstreamError? { condition.withLock { failure } }

    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }

    /// Stops the transfer at its next byte (the client left).
    func cancel() { condition.withLock { cancelled = true } }
}
