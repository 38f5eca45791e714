import Foundation
import Runtime
import Tokenizer

public struct EngineConfiguration: Sendable {
    public var limits = SchedulerLimits()
    /// Seconds an idle engine holds a new batch open so that requests arriving
    /// together start together (`--batch-window-ms`); 0 starts at once.
    public var batchWindow = 0.0
    /// Keep finished sequences' KV for later prompts with the same head.
    public var prefixCache = true

    public init() {}
}

/// Lets a caller cancel its request; the engine frees its slot at the next step.
public struct RequestHandle: Sendable {
    public let id: Int
    let engine: Engine
    public func cancel() { engine.cancel(id) }
}

/// Owns the model and runs it on one thread. Callers on any thread submit
/// requests and get their events through a callback or an async stream; the
/// engine thread schedules, runs one forward pass per step over every
/// scheduled sequence, samples, and reports.
///
/// Concurrency: every mutable property is guarded by `lock`. The engine
/// thread releases it only around the forward pass, which touches nothing but
/// the step's inputs (caches owned by running sequences) and the model.
/// Events are delivered with the lock released.
public final class Engine: @unchecked Sendable {
    /// The instruction set the model's integer kernels run with (for /metrics).
    public static var instructionSet: String { InstructionSet.current.name }

    public let model: Model
    public let tokenizer: Tokenizer
    public let configuration: EngineConfiguration
    private let endOfTurn: Set<Int32>

    private let lock = NSCondition()
    private var scheduler: Scheduler
    private var prefixCache: PrefixCache
    private var requests: [Int: RequestState] = [:]
    private var choiceOfSequence: [Int: ChoiceState] = [:]
    private var cancellations: [Int] = []
    private var acceptsWork = true
    private var isStopped = false
    private var threadExited = false
    private var nextRequestID = 1
    private var nextSequenceID = 1
    private var counters = EngineMetrics()
    /// The step's logits; only the engine thread touches it, and its storage is reused.
    private var stepLogits: [Float] = []

    public init(model: Model, tokenizer: Tokenizer, configuration: EngineConfiguration = EngineConfiguration()) {
        self.model = model
        self.tokenizer = tokenizer
        var configuration = configuration
        configuration.limits.context = min(configuration.limits.context, model.config.contextLength)
        self.configuration = configuration
        scheduler = Scheduler(limits: configuration.limits)
        prefixCache = PrefixCache(maxEntries: configuration.prefixCache ? 256 : 0)
        var stops = tokenizer.endOfTurnIDs
        if let eos = tokenizer.eosID { stops.insert(eos) }
        endOfTurn = stops
        let thread = Thread { [self] in run() }
        thread.name = "wafer-engine"
        thread.stackSize = 8 << 20
        thread.start()
    }

    public var limits: SchedulerLimits { configuration.limits }

    // MARK: Callers

    /// Queues a request; `onEvent` receives its pieces and then one `finished`,
    /// on the engine thread (it must not block). Throws at once if the request
    /// is invalid, can never fit, or the queue is full.
    @discardableResult
    public func submit(_ request: GenerationRequest,
                       onEvent: @escaping @Sendable (GenerationEvent) -> Void) throws(EngineError) -> RequestHandle {
        try validate(request)
        let baseSeed = request.sampling.seed ?? UInt64.random(in: .min ... .max)

        lock.lock()
        defer { lock.unlock() }
        guard acceptsWork else { throw .shuttingDown }
        let id = nextRequestID
        let sequences = try scheduler.submit(firstID: nextSequenceID, prompt: request.prompt, maxTokens: request.maxTokens ?? limits.context,
                                             choices: request.choices, background: request.isBackground)
        nextRequestID += 1
        nextSequenceID += sequences.count
        let state = RequestState(id: id, request: request, onEvent: onEvent)
        for (index, sequence) in sequences.enumerated() {
            var sampling = request.sampling
            sampling.seed = baseSeed &+ UInt64(index)
            let choice = ChoiceState(index: index, requestID: id, sequence: sequence,
                                     sampler: Sampler(parameters: sampling, fallbackSeed: 0), tokenizer: tokenizer, stop: request.stop,
                                     constraint: request.constraint?())
            state.choices.append(choice)
            choiceOfSequence[sequence.id] = choice
        }
        requests[id] = state
        counters.promptTokens += request.prompt.count
        lock.broadcast()
        return RequestHandle(id: id, engine: self)
    }

    /// Every check of a request that does not depend on the engine's load: the
    /// one definition of a valid request (the API calls it before metering, and
    /// `submit` again). The queue and the KV budget are the scheduler's.
    public func validate(_ request: GenerationRequest) throws(EngineError) {
        guard (1...128).contains(request.choices) else { throw .invalidChoices(request.choices) }
        if let m = request.maxTokens {
            guard m >= 1 else { throw .invalidMaxTokens(m) }
            guard m <= limits.context else { throw .maxTokensBeyondContext(m, context: limits.context) }
        }
        do { try request.sampling.validate(vocabularySize: model.config.vocabularySize) } catch { throw .invalidSampling(error) }
        if let bad = request.prompt.first(where: { $0 < 0 || Int($0) >= model.config.vocabularySize }) {
            throw .tokenOutOfVocabulary(token: bad, vocabularySize: model.config.vocabularySize)
        }
        _ = try limits.reservation(promptTokens: request.prompt.count, maxTokens: request.maxTokens ?? limits.context, choices: request.choices)
    }

    /// `submit` as an async stream; ending the iteration early cancels the request.
    public func stream(_ request: GenerationRequest) throws(EngineError) -> (handle: RequestHandle, events: AsyncStream<GenerationEvent>) {
        let (events, continuation) = AsyncStream.makeStream(of: GenerationEvent.self, bufferingPolicy: .unbounded)
        let handle = try submit(request) { event in
            continuation.yield(event)
            if case .finished = event { continuation.finish() }
        }
        continuation.onTermination = { termination in
            if case .cancelled = termination { handle.cancel() }
        }
        return (handle, events)
    }

    /// Cancels a request at the next step (a no-op once it has finished).
    public func cancel(_ id: Int) {
        lock.lock()
        cancellations.append(id)
        lock.broadcast()
        lock.unlock()
    }

    /// Sequences waiting for a batch slot (what the overflow route watches).
    public var waitingSequences: Int {
        lock.lock()
        defer { lock.unlock() }
        return scheduler.waitingCount
    }

    public func metrics() -> EngineMetrics {
        lock.lock()
        defer { lock.unlock() }
        var m = counters
        m.activeSequences = scheduler.running.count
        m.queuedSequences = scheduler.waitingCount
        m.prefixCacheEntries = prefixCache.count
        m.prefixCacheTokens = prefixCache.storedTokens
        return m
    }

    /// Stops taking requests, lets those in flight finish for up to `grace`
    /// seconds, cancels the rest (they still get `finished`), and stops the thread.
    public func shutdown(grace: Double = 0) {
        lock.lock()
        acceptsWork = false
        let deadline = Date(timeIntervalSinceNow: grace)
        while !requests.isEmpty, lock.wait(until: deadline) {}
        isStopped = true
        lock.broadcast()
        while !threadExited { lock.wait() }
        lock.unlock()
    }

    // MARK: Engine thread

    private typealias Outbox = [(callback: @Sendable (GenerationEvent) -> Void, event: GenerationEvent)]

    private func run() {
        lock.lock()
        var outbox: Outbox = []
        while true {
            applyCancellations(&outbox)
            if isStopped { for id in Array(requests.keys) { cancel(requestID: id, &outbox) } }
            if scheduler.running.isEmpty, scheduler.waitingCount == 0 {
                if isStopped { break }
                deliver(&outbox)
                lock.broadcast()  // wakes a shutdown waiting for the engine to drain
                if cancellations.isEmpty, !isStopped, scheduler.waitingCount == 0 { lock.wait() }
                continue
            }
            if let deadline = batchWindowDeadline() {
                deliver(&outbox)
                _ = lock.wait(until: deadline)
                continue
            }
            let chunks = scheduler.schedule(fits: fitsKV, admit: admit)
            guard !chunks.isEmpty else {
                // Nothing can run until something else changes (a cancellation, a new request).
                deliver(&outbox)
                _ = lock.wait(until: Date(timeIntervalSinceNow: 0.01))
                continue
            }
            let inputs = chunks.map { chunk in
                SequenceInput(cache: choiceOfSequence[chunk.sequence.id]!.cache!, tokens: chunk.tokens,
                              kind: chunk.isPrompt ? .prompt : .generated)
            }
            lock.unlock()
            deliverUnlocked(&outbox)
            let result = Result { () throws(ModelError) in try model.forward(inputs, logits: &stepLogits) }
            lock.lock()
            switch result {
            case .success: finishStep(chunks, logits: stepLogits, &outbox)
            case .failure(let error): failStep(chunks, error: error, &outbox)
            }
        }
        // The last events (cancelled requests' `finished`) go out before `shutdown` may return.
        deliver(&outbox)
        threadExited = true
        lock.broadcast()
        lock.unlock()
    }

    /// While the engine is idle and the batch not full, when to stop waiting for more requests.
    private func batchWindowDeadline() -> Date? {
        guard configuration.batchWindow > 0, scheduler.running.isEmpty, !isStopped,
              scheduler.waitingCount < limits.maxBatch,
              let first = scheduler.waiting.first, let choice = choiceOfSequence[first.id],
              let request = requests[choice.requestID] else { return nil }
        let deadline = request.submittedAt + UInt64(configuration.batchWindow * 1e9)
        let now = Clock.now
        return deadline > now ? Date(timeIntervalSinceNow: Double(deadline - now) / 1e9) : nil
    }

    /// Admission may use KV positions held by the prefix cache, evicting its oldest entries.
    private func fitsKV(_ reserved: Int) -> Bool {
        prefixCache.shrink(to: limits.kvTokens - reserved)
        return reserved + prefixCache.storedTokens <= limits.kvTokens
    }

    /// A sequence joins the batch: its cache is made, and the longest prompt
    /// head already computed elsewhere is copied in (the last prompt token is
    /// always computed, as its logits give the first token).
    private func admit(_ sequence: ScheduledSequence, others: [ScheduledSequence]) {
        let choice = choiceOfSequence[sequence.id]!
        let cache = model.makeCache(capacity: sequence.reservation)
        choice.cache = cache
        if let request = requests[choice.requestID], request.admittedAt == nil { request.admittedAt = Clock.now }
        guard configuration.prefixCache else { return }
        let live = others.compactMap { s -> (tokens: [Int32], cache: KVCache)? in
            guard s.computed > 0, let c = choiceOfSequence[s.id]?.cache else { return nil }
            return (s.tokens(0..<s.computed), c)
        }
        guard let hit = prefixCache.longestMatch(sequence.prompt, limit: sequence.prompt.count - 1, live: live) else { return }
        cache.copyPrefix(of: hit.cache, count: hit.count)
        sequence.computed = hit.count
        choice.cachedTokens = hit.count
        counters.cachedPromptTokens += hit.count
    }

    private func finishStep(_ chunks: [ScheduledChunk], logits: [Float], _ outbox: inout Outbox) {
        counters.recordStep(sequences: chunks.count)
        let vocab = model.config.vocabularySize
        let now = Clock.now
        for (row, chunk) in chunks.enumerated() {
            scheduler.completed(chunk)
            guard chunk.samplesNext, let choice = choiceOfSequence[chunk.sequence.id],
                  let request = requests[choice.requestID] else { continue }
            let token = logits.withUnsafeBufferPointer { all in
                choice.sampler.sample(logits: UnsafeBufferPointer(rebasing: all[row * vocab..<(row + 1) * vocab]), history: choice.history,
                                      constraint: choice.constraint, endOfTurn: endOfTurn)
            }
            if request.firstTokenAt == nil {
                request.firstTokenAt = now
                counters.timeToFirstToken.observe(Double(now - request.submittedAt) / 1e9)
            }
            if let last = choice.lastTokenTime { counters.interTokenLatency.observe(Double(now - last) / 1e9) }
            choice.lastTokenTime = now
            counters.generatedTokens += 1
            let isEndOfTurn = !request.request.ignoreEndOfTurn && endOfTurn.contains(token.id)
            if let piece = choice.accept(token, isEndOfTurn: isEndOfTurn) { outbox.append((request.onEvent, .piece(piece))) }
            if choice.finishReason != nil { finish(choice, of: request, &outbox) }
        }
    }

    private func failStep(_ chunks: [ScheduledChunk], error: ModelError, _ outbox: inout Outbox) {
        for chunk in chunks {
            guard let choice = choiceOfSequence[chunk.sequence.id], let request = requests[choice.requestID] else { continue }
            request.error = error.description
            for c in request.choices where c.finishReason == nil {
                if let piece = c.end(.error) { outbox.append((request.onEvent, .piece(piece))) }
                finish(c, of: request, &outbox)
            }
        }
    }

    private func applyCancellations(_ outbox: inout Outbox) {
        let ids = cancellations
        cancellations.removeAll()
        for id in ids { cancel(requestID: id, &outbox) }
    }

    private func cancel(requestID: Int, _ outbox: inout Outbox) {
        guard let request = requests[requestID] else { return }
        for choice in request.choices where choice.finishReason == nil {
            if let piece = choice.end(.cancelled) { outbox.append((request.onEvent, .piece(piece))) }
            finish(choice, of: request, &outbox)
        }
    }

    /// A choice has ended: its slot and reservation are freed at once, and its
    /// computed KV is offered to the prefix cache. The request ends with its last choice.
    private func finish(_ choice: ChoiceState, of request: RequestState, _ outbox: inout Outbox) {
        let sequence = choice.sequence
        scheduler.remove(sequence)
        choiceOfSequence[sequence.id] = nil
        if configuration.prefixCache, let cache = choice.cache, cache.length > 0 {
            prefixCache.insert(tokens: sequence.tokens(0..<cache.length), cache: cache)
        }
        choice.cache = nil
        guard request.choices.allSatisfy({ $0.finishReason != nil }), requests[request.id] != nil else { return }
        requests[request.id] = nil
        let result = request.result(at: Clock.now)
        counters.requestLatency.observe(result.timing.total)
        counters.finishedRequests[result.choices[0].finishReason.rawValue, default: 0] += 1
        outbox.append((request.onEvent, .finished(result)))
    }

    private func deliver(_ outbox: inout Outbox) {
        guard !outbox.isEmpty else { return }
        lock.unlock()
        deliverUnlocked(&outbox)
        lock.lock()
    }

    private func deliverUnlocked(_ outbox: inout Outbox) {
        for (callback, event) in outbox { callback(event) }
        outbox.removeAll()
    }
}

/// Monotonic nanoseconds.
enum Clock {
    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// A request while it runs: its choices and the times that go into `time_info`.
final class RequestState {
    let id: Int
    let request: GenerationRequest
    let onEvent: @Sendable (GenerationEvent) -> Void
    var choices: [ChoiceState] = []
    let created = Date().timeIntervalSince1970
    let submittedAt = Clock.now
    var admittedAt: UInt64?
    var firstTokenAt: UInt64?
    var error: String?

    init(id: Int, request: GenerationRequest, onEvent: @escaping @Sendable (GenerationEvent) -> Void) {
        self.id = id
        self.request = request
        self.onEvent = onEvent
    }

    func result(at end: UInt64) -> GenerationResult {
        func seconds(_ from: UInt64?, _ to: UInt64?) -> Double {
            guard let from, let to, to >= from else { return 0 }
            return Double(to - from) / 1e9
        }
        let admitted = admittedAt ?? end
        let timing = GenerationTiming(
            created: created, queue: seconds(submittedAt, admitted), prompt: seconds(admitted, firstTokenAt ?? end),
            completion: seconds(firstTokenAt ?? end, end), total: seconds(submittedAt, end),
            timeToFirstToken: firstTokenAt.map { seconds(submittedAt, $0) })
        let usage = GenerationUsage(promptTokens: request.prompt.count, cachedPromptTokens: choices.first?.cachedTokens ?? 0,
                                    completionTokens: choices.reduce(0) { $0 + $1.tokens.count })
        return GenerationResult(choices: choices.map(\.result), usage: usage, timing: timing, error: error)
    }
}
