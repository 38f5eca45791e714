/// Limits the scheduler works within.
public struct SchedulerLimits: Sendable, Equatable {
    /// Sequences computed together at most (`--max-batch`).
    public var maxBatch = 32
    /// Requests waiting for a slot at most (`--max-queue`); beyond, submission fails fast.
    public var maxQueue = 256
    /// Tokens computed per step at most: bounds a step's latency, so a long
    /// prompt is processed in chunks while others keep decoding.
    public var stepTokens = 512
    /// KV cache positions that all running sequences may reserve together (`--kv-tokens`).
    public var kvTokens = 65_536
    /// The model's context length.
    public var context = 8192

    public init() {}
}

/// One request's progress, as the scheduler sees it. `known` tokens are the
/// prompt plus what has been generated; `computed` of them have their KV in
/// the cache. Each step tries to let `computed` catch up with `known`
/// (vLLM v1's formulation: no separate prefill and decode phases).
public final class ScheduledSequence {
    public let id: Int
    public let prompt: [Int32]
    public private(set) var generated: [Int32] = []
    public internal(set) var computed = 0
    /// KV positions reserved at admission: the prompt plus every token it may generate.
    public let reservation: Int

    public var known: Int { prompt.count + generated.count }

    init(id: Int, prompt: [Int32], maxTokens: Int, context: Int) {
        self.id = id
        self.prompt = prompt
        reservation = min(prompt.count + maxTokens, context)
    }

    /// The tokens `start..<end` of prompt + generated.
    func tokens(_ range: Range<Int>) -> [Int32] {
        range.map { $0 < prompt.count ? prompt[$0] : generated[$0 - prompt.count] }
    }

    /// Records a sampled token (the engine calls this after a step that `samplesNext`).
    public func append(_ token: Int32) { generated.append(token) }
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
    private var waitingHead = 0
    private var reserved = 0

    public init(limits: SchedulerLimits) { self.limits = limits }

    public var waitingCount: Int { waiting.count - waitingHead }
    public var reservedKV: Int { reserved }

    /// Queues a request, or refuses it at once if it can never run or the queue is full.
    public mutating func submit(id: Int, prompt: [Int32], maxTokens: Int) throws(EngineError) -> ScheduledSequence {
        guard !prompt.isEmpty else { throw .emptyPrompt }
        guard prompt.count < limits.context else { throw .promptTooLong(tokens: prompt.count, context: limits.context) }
        let sequence = ScheduledSequence(id: id, prompt: prompt, maxTokens: max(maxTokens, 1), context: limits.context)
        guard sequence.reservation <= limits.kvTokens else { throw .exceedsKVBudget(tokens: sequence.reservation, budget: limits.kvTokens) }
        guard waitingCount < limits.maxQueue else { throw .queueFull(waiting: waitingCount) }
        waiting.append(sequence)
        return sequence
    }

    /// The chunks of the next step.
    public mutating func schedule() -> [ScheduledChunk] {
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
        while budget > 0, running.count < limits.maxBatch, waitingHead < waiting.count,
              reserved + waiting[waitingHead].reservation <= limits.kvTokens {
            let s = waiting[waitingHead]
            waitingHead += 1
            running.append(s)
            reserved += s.reservation
            take(s)
        }
        if waitingHead > 64, waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        return chunks
    }

    /// Records that a step computed `chunk`.
    public func completed(_ chunk: ScheduledChunk) { chunk.sequence.computed = chunk.start + chunk.tokens.count }

    /// Removes a running or waiting sequence (finished, failed or cancelled) and frees its reservation.
    public mutating func remove(_ sequence: ScheduledSequence) {
        if let i = running.firstIndex(where: { $0 === sequence }) {
            running.remove(at: i)
            reserved -= sequence.reservation
        } else if let i = waiting[waitingHead...].firstIndex(where: { $0 === sequence }) {
            waiting.remove(at: i)
        }
    }
}
