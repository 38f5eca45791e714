/// Limits the scheduler works within.
public struct SchedulerLimits: Sendable, Equatable {
    /// Sequences computed together at most (`--max-batch`).
    public var maxBatch = 32
    /// Requests waiting for a slot at most (`--max-queue`); beyond, submission fails fast.
    public var maxQueue = 256
    /// Tokens computed per step at most: bounds a step's latency, so a long
    /// prompt is processed in chunks while others keep decoding.
    public var stepTokens = 512
    /// KV cache positions that running sequences and the prefix cache may hold together (`--kv-tokens`).
    public var kvTokens = 65_536
    /// The longest sequence (prompt + generated) a request may reach (`--ctx`, at most the model's).
    public var context = 8192

    public init() {}

    /// The KV positions each choice of a request reserves at admission: its
    /// prompt plus every token it may generate. Refuses a request that could
    /// never run (its choices' KV must fit at once).
    public func reservation(promptTokens: Int, maxTokens: Int, choices: Int = 1) throws(EngineError) -> Int {
        guard promptTokens > 0 else { throw .emptyPrompt }
        guard promptTokens < context else { throw .promptTooLong(tokens: promptTokens, context: context) }
        // The prompt's room in the context bounds `maxTokens` first, so no sum can overflow.
        let reservation = promptTokens + min(max(maxTokens, 1), context - promptTokens)
        guard reservation * choices <= kvTokens else { throw .exceedsKVBudget(tokens: reservation * choices, budget: kvTokens) }
        return reservation
    }
}

/// One request's progress, as the scheduler sees it. `known` tokens are the
/// prompt plus what has been generated; `computed` of them have their KV in
/// the cache. Each step tries to let `computed` catch up with `known`
/// (vLLM v1's formulation: no separate prefill and decode phases).
public final class ScheduledSequence {
    public let id: Int
    public let prompt: [Int32]
    public private(set) var generated: [Int32] = []
    /// Set by the scheduler as steps complete, and at admission by a prefix-cache hit.
    public internal(set) var computed = 0
    public let reservation: Int
    /// A sibling whose prompt KV this sequence copies (the other choices of an
    /// `n` > 1 request): admission waits until that prompt is computed.
    let sibling: ScheduledSequence?
    /// Batch work: admitted only after every interactive request waiting.
    let isBackground: Bool
    var isRemoved = false

    public var known: Int { prompt.count + generated.count }

    init(id: Int, prompt: [Int32], reservation: Int, sibling: ScheduledSequence?, isBackground: Bool) {
        self.id = id
        self.prompt = prompt
        self.reservation = reservation
        self.sibling = sibling
        self.isBackground = isBackground
    }

    /// The tokens `range` of prompt + generated.
    public func tokens(_ range: Range<Int>) -> [Int32] {
        range.map { $0 < prompt.count ? prompt[$0] : generated[$0 - prompt.count] }
    }

    /// Records a sampled token (the engine calls this after a step that `samplesNext`).
    public func append(_ token: Int32) { generated.append(token) }

    /// Waiting for a sibling's prompt, which this sequence will copy.
    var isBlocked: Bool {
        guard let sibling, !sibling.isRemoved else { return false }
        return sibling.computed < prompt.count - 1
    }
}

/// A step's work for one sequence: compute `tokens`, which start at cache position `start`.
public struct ScheduledChunk {
    public let sequence: ScheduledSequence
    public let start: Int
    public let tokens: [Int32]
    /// True when the chunk ends at the last known token, so its logits give the next token.
    public let samplesNext: Bool
    /// Prompt tokens (including a re-computed prefix) or a generated token.
    public let isPrompt: Bool
}

/// Admission and per-step token budgeting. Pure bookkeeping: the engine runs
/// the chunks it returns, appends sampled tokens and reports finished
/// sequences back. Running sequences are served first, oldest first (a
/// decode row costs one token), then waiting ones are admitted in arrival
/// order while the batch, the step budget and the KV budget allow.
public struct Scheduler {
    public let limits: SchedulerLimits
    public private(set) var waiting: [ScheduledSequence] = []
    public private(set) var running: [ScheduledSequence] = []
    private var reserved = 0

    public init(limits: SchedulerLimits) { self.limits = limits }

    public var waitingCount: Int { waiting.count }
    /// KV positions reserved by running sequences.
    public var reservedKV: Int { reserved }

    /// Queues a request, or refuses it at once if it can never run or the queue is full.
    /// `sibling`: an earlier choice of the same request whose prompt KV this one will copy.
    public mutating func submit(id: Int, prompt: [Int32], maxTokens: Int, sibling: ScheduledSequence? = nil,
                                background: Bool = false) throws(EngineError) -> ScheduledSequence {
        let reservation = try limits.reservation(promptTokens: prompt.count, maxTokens: maxTokens)
        guard waiting.count < limits.maxQueue else { throw .queueFull(waiting: waiting.count) }
        return enqueue(ScheduledSequence(id: id, prompt: prompt, reservation: reservation, sibling: sibling, isBackground: background))
    }

    /// Queues the `choices` sequences of one request (ids `firstID`...), all or
    /// none: the later ones copy the first one's prompt KV once it is computed.
    public mutating func submit(firstID: Int, prompt: [Int32], maxTokens: Int, choices: Int,
                                background: Bool = false) throws(EngineError) -> [ScheduledSequence] {
        let reservation = try limits.reservation(promptTokens: prompt.count, maxTokens: maxTokens, choices: choices)
        guard waiting.count + choices <= limits.maxQueue else { throw .queueFull(waiting: waiting.count) }
        var sequences: [ScheduledSequence] = []
        for index in 0..<choices {
            sequences.append(enqueue(ScheduledSequence(id: firstID + index, prompt: prompt, reservation: reservation,
                                                       sibling: sequences.first, isBackground: background)))
        }
        return sequences
    }

    /// Interactive requests queue ahead of every background (batch) one.
    private mutating func enqueue(_ sequence: ScheduledSequence) -> ScheduledSequence {
        let position = sequence.isBackground ? waiting.count : waiting.firstIndex { $0.isBackground } ?? waiting.count
        waiting.insert(sequence, at: position)
        return sequence
    }

    /// The chunks of the next step. `fits(total)` says whether `total` reserved
    /// KV positions fit beside what the caller holds elsewhere (it may free
    /// cached prefixes to make room); `admit` runs as a sequence joins the
    /// batch (given the others running), before its first chunk is cut, and
    /// may advance its `computed`.
    public mutating func schedule(fits: (Int) -> Bool = { _ in true },
                                  admit: (_ sequence: ScheduledSequence, _ others: [ScheduledSequence]) -> Void = { _, _ in })
        -> [ScheduledChunk] {
        var budget = limits.stepTokens
        var chunks: [ScheduledChunk] = []
        func take(_ s: ScheduledSequence) {
            let n = min(s.known - s.computed, budget)
            guard n > 0 else { return }
            let start = s.computed
            chunks.append(ScheduledChunk(sequence: s, start: start, tokens: s.tokens(start..<start + n),
                                         samplesNext: start + n == s.known, isPrompt: start < s.prompt.count))
            budget -= n
        }
        for s in running where budget > 0 { take(s) }
        var i = 0
        while budget > 0, running.count < limits.maxBatch, i < waiting.count {
            let s = waiting[i]
            // Choices wait for their sibling's prompt; others may pass them.
            if s.isBlocked { i += 1; continue }
            // Otherwise arrival order is kept: a big request is not starved by small ones behind it.
            let total = reserved + s.reservation
            guard total <= limits.kvTokens, fits(total) else { break }
            waiting.remove(at: i)
            admit(s, running)
            running.append(s)
            reserved += s.reservation
            take(s)
        }
        return chunks
    }

    /// Records that a step computed `chunk`.
    public func completed(_ chunk: ScheduledChunk) { chunk.sequence.computed = chunk.start + chunk.tokens.count }

    /// Removes a running or waiting sequence (finished, failed or cancelled) and frees its reservation.
    public mutating func remove(_ sequence: ScheduledSequence) {
        sequence.isRemoved = true
        if let i = running.firstIndex(where: { $0 === sequence }) {
            running.remove(at: i)
            reserved -= sequence.reservation
        } else if let i = waiting.firstIndex(where: { $0 === sequence }) {
            waiting.remove(at: i)
        }
    }
}
