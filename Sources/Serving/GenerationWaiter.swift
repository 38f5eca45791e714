import Foundation
import Engine

/// Gathers the engine's events for the parts of one HTTP request (one per
/// prompt) so the caller's thread can wait on them; cancels them all if
/// the client goes away or the deadline passes.
final class GenerationWaiter: @unchecked Sendable {  // state under `condition`, but `timedOut` (the waiting thread's)
    private let condition = NSCondition()
    private var events: [(part: Int, event: GenerationEvent)] = []
    private var handles: [RequestHandle] = []
    private var unfinished = 0
    private let deadline: Date?
    /// The deadline passed and the parts were cancelled for it.
    private(set) var timedOut = false

    /// Submits every part; if one is refused, those already queued are cancelled.
    init(engine: Engine, parts: [GenerationRequest], deadline: Date? = nil) throws(EngineError) {
        self.deadline = deadline
        for (index, part) in parts.enumerated() {
            do {
                let handle = try engine.submit(part) { [self] event in
                    condition.lock()
                    events.append((index, event))
                    if case .finished = event { unfinished -= 1 }
                    condition.broadcast()
                    condition.unlock()
                }
                condition.lock()
                handles.append(handle)
                unfinished += 1
                condition.unlock()
            } catch {
                cancel()
                throw error
            }
        }
    }

    /// The next event, waiting at most `timeout` seconds; nil if none came.
    func next(timeout: Double) -> (part: Int, event: GenerationEvent)? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while events.isEmpty, unfinished > 0 {
            if !condition.wait(until: deadline) { break }
        }
        return events.isEmpty ? nil : events.removeFirst()
    }

    /// True once every part has delivered `finished` and it has been taken.
    var isDrained: Bool {
        condition.lock()
        defer { condition.unlock() }
        return unfinished == 0 && events.isEmpty
    }

    func cancel() {
        condition.lock()
        let all = handles
        condition.unlock()
        for handle in all { handle.cancel() }
    }

    /// Cancels every part once the deadline has passed; true if it has (now or before).
    func checkDeadline() -> Bool {
        if !timedOut, let deadline, Date() >= deadline, !isDrained {
            timedOut = true
            cancel()
        }
        return timedOut
    }

    /// Waits for every part to finish, cancelling them if the client hangs up
    /// or the deadline passes; returns each part's result.
    func results(watching client: any ClientPresence) -> [GenerationResult?] {
        var results: [GenerationResult?] = Array(repeating: nil, count: handles.count)
        var cancelled = false
        var lastCheck = Date()
        while !isDrained {
            if let (part, event) = next(timeout: 0.1), case .finished(let result) = event { results[part] = result }
            // Pieces keep arriving while the client may be gone: look at the socket every 100 ms regardless.
            if !cancelled, Date().timeIntervalSince(lastCheck) >= 0.1 {
                lastCheck = Date()
                if client.hasLeft {
                    cancelled = true
                    cancel()
                } else if checkDeadline() {
                    cancelled = true
                }
            }
        }
        return results
    }
}
