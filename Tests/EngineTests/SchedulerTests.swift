import Testing
@testable import Engine

/// The scheduler driven by a fake model (no weights): the next token is a
/// fixed function of the sequence's tokens, so any schedule must reproduce
/// the same continuations.
struct SchedulerTests {
    /// A stand-in for the model: depends on the whole sequence so far.
    static func fakeNext(_ tokens: [Int32]) -> Int32 {
        Int32(truncatingIfNeeded: tokens.reduce(17) { ($0 &* 31 &+ Int($1)) % 1000 })
    }

    /// Runs steps until every submitted sequence has `maxTokens` tokens; returns the chunks of each step.
    @discardableResult
    static func drain(_ scheduler: inout Scheduler, maxTokens: [Int: Int], cancelAfterStep: [Int: Int] = [:],
                      limit: Int = 10_000) -> [[ScheduledChunk]] {
        var steps: [[ScheduledChunk]] = []
        while !(scheduler.running.isEmpty && scheduler.waitingCount == 0), steps.count < limit {
            let chunks = scheduler.schedule()
            steps.append(chunks)
            for chunk in chunks {
                let s = chunk.sequence
                #expect(chunk.start == s.computed, "chunks continue where the cache ends")
                scheduler.completed(chunk)
                if chunk.samplesNext {
                    s.append(fakeNext(s.prompt + s.generated))
                    if s.generated.count == maxTokens[s.id] { scheduler.remove(s) }
                }
            }
            for (id, step) in cancelAfterStep where step == steps.count {
                if let s = scheduler.running.first(where: { $0.id == id }) { scheduler.remove(s) }
            }
        }
        return steps
    }

    /// A request's own numbers never overflow the reservation (an Int64-max `max_tokens` trapped here once).
    @Test func reservationOfHugeMaxTokensIsTheContext() throws {
        var limits = SchedulerLimits()
        limits.context = 100
        limits.kvTokens = 1000
        #expect(try limits.reservation(promptTokens: 10, maxTokens: Int.max) == 100)
        #expect(try limits.reservation(promptTokens: 99, maxTokens: Int.max) == 100)
        #expect(try limits.reservation(promptTokens: 10, maxTokens: Int.min) == 11)
        #expect(try limits.reservation(promptTokens: 10, maxTokens: 5) == 15)
    }

    static func expected(_ prompt: [Int32], _ n: Int) -> [Int32] {
        var tokens = prompt
        for _ in 0..<n { tokens.append(fakeNext(tokens)) }
        return Array(tokens.dropFirst(prompt.count))
    }

    @Test func longPromptIsChunkedWhileOthersDecode() throws {
        var limits = SchedulerLimits()
        limits.stepTokens = 64
        var scheduler = Scheduler(limits: limits)
        let short = try scheduler.submit(id: 1, prompt: [1, 2, 3], maxTokens: 20)
        _ = scheduler.schedule().map(scheduler.completed)
        short.append(Self.fakeNext(short.prompt))
        let long = try scheduler.submit(id: 2, prompt: (0..<300).map { Int32($0 % 50) }, maxTokens: 5)
        var stepsWithShortDecoding = 0
        for _ in 0..<4 {
            let chunks = scheduler.schedule()
            #expect(chunks.reduce(0) { $0 + $1.tokens.count } <= 64)
            if chunks.contains(where: { $0.sequence === short }) { stepsWithShortDecoding += 1 }
            for chunk in chunks {
                scheduler.completed(chunk)
                if chunk.samplesNext { chunk.sequence.append(Self.fakeNext(chunk.sequence.prompt + chunk.sequence.generated)) }
            }
        }
        #expect(stepsWithShortDecoding == 4, "the short sequence decodes every step while the long prompt is chunked")
        #expect(long.computed == 4 * 63, "the long prompt takes the rest of each step's budget")
    }

    @Test func continuationsDoNotDependOnTheSchedule() throws {
        var results: [[[Int32]]] = []
        for (stepTokens, maxBatch) in [(1_000, 32), (16, 32), (7, 2), (64, 1)] {
            var limits = SchedulerLimits()
            limits.stepTokens = stepTokens
            limits.maxBatch = maxBatch
            var scheduler = Scheduler(limits: limits)
            var sequences: [ScheduledSequence] = []
            var maxTokens: [Int: Int] = [:]
            for id in 0..<6 {
                let prompt = (0..<(5 + id * 9)).map { Int32(($0 * 7 + id) % 100) }
                sequences.append(try scheduler.submit(id: id, prompt: prompt, maxTokens: 4 + id))
                maxTokens[id] = 4 + id
            }
            let steps = Self.drain(&scheduler, maxTokens: maxTokens)
            #expect(steps.allSatisfy { Set($0.map(\.sequence.id)).count <= maxBatch })
            for s in sequences { #expect(s.generated == Self.expected(s.prompt, 4 + s.id)) }
            results.append(sequences.map(\.generated))
        }
        #expect(results.allSatisfy { $0 == results[0] })
    }

    @Test func batchLimitQueuesTheRest() throws {
        var limits = SchedulerLimits()
        limits.maxBatch = 2
        var scheduler = Scheduler(limits: limits)
        for id in 0..<5 { _ = try scheduler.submit(id: id, prompt: [1, 2], maxTokens: 3) }
        _ = scheduler.schedule()
        #expect(scheduler.running.map(\.id) == [0, 1])
        #expect(scheduler.waitingCount == 3)
        Self.drain(&scheduler, maxTokens: Dictionary(uniqueKeysWithValues: (0..<5).map { ($0, 3) }))
        #expect(scheduler.running.isEmpty && scheduler.reservedKV == 0)
    }

    @Test func kvBudgetLimitsAdmission() throws {
        var limits = SchedulerLimits()
        limits.kvTokens = 100
        var scheduler = Scheduler(limits: limits)
        _ = try scheduler.submit(id: 0, prompt: Array(repeating: 5, count: 30), maxTokens: 30)  // reserves 60
        _ = try scheduler.submit(id: 1, prompt: Array(repeating: 6, count: 30), maxTokens: 30)  // would make 120
        _ = scheduler.schedule()
        #expect(scheduler.running.map(\.id) == [0])
        #expect(scheduler.reservedKV == 60)
        Self.drain(&scheduler, maxTokens: [0: 30, 1: 30])
        #expect(scheduler.reservedKV == 0)
    }

    @Test func impossibleRequestsFailAtOnce() throws {
        var limits = SchedulerLimits()
        limits.maxQueue = 2
        limits.context = 64
        limits.kvTokens = 50
        var scheduler = Scheduler(limits: limits)
        #expect(throws: EngineError.emptyPrompt) { try scheduler.submit(id: 0, prompt: [], maxTokens: 4) }
        #expect(throws: EngineError.promptTooLong(tokens: 64, context: 64)) {
            try scheduler.submit(id: 0, prompt: Array(repeating: 1, count: 64), maxTokens: 4)
        }
        #expect(throws: EngineError.exceedsKVBudget(tokens: 60, budget: 50)) {
            try scheduler.submit(id: 0, prompt: Array(repeating: 1, count: 40), maxTokens: 20)
        }
        _ = try scheduler.submit(id: 1, prompt: [1], maxTokens: 4)
        _ = try scheduler.submit(id: 2, prompt: [1], maxTokens: 4)
        #expect(throws: EngineError.queueFull(waiting: 2)) { try scheduler.submit(id: 3, prompt: [1], maxTokens: 4) }
        #expect(!EngineError.queueFull(waiting: 2).description.contains("\n"))
    }

    @Test func cancellationFreesTheSlotMidFlight() throws {
        var limits = SchedulerLimits()
        limits.maxBatch = 1
        var scheduler = Scheduler(limits: limits)
        let first = try scheduler.submit(id: 0, prompt: [1, 2, 3], maxTokens: 1_000)
        let second = try scheduler.submit(id: 1, prompt: [4, 5], maxTokens: 3)
        Self.drain(&scheduler, maxTokens: [0: 1_000, 1: 3], cancelAfterStep: [0: 4])
        #expect(first.generated.count == 4, "cancelled after four steps, its tokens so far kept for billing")
        #expect(second.generated == Self.expected([4, 5], 3))
        #expect(scheduler.reservedKV == 0)
    }

    @Test func choicesWaitForTheirSiblingsPromptThenCopyIt() throws {
        var scheduler = Scheduler(limits: SchedulerLimits())
        let first = try scheduler.submit(id: 0, prompt: [1, 2, 3, 4], maxTokens: 2)
        let second = try scheduler.submit(id: 1, prompt: [1, 2, 3, 4], maxTokens: 2, sibling: first)
        let other = try scheduler.submit(id: 2, prompt: [9], maxTokens: 2)
        var step = scheduler.schedule()
        #expect(step.map(\.sequence.id) == [0, 2], "the second choice waits; a later request may pass it")
        step.forEach(scheduler.completed)
        var copied: [Int: Int] = [:]
        step = scheduler.schedule(admit: { s, others in
            #expect(others.contains { $0 === first })
            s.computed = 3  // what the engine's prefix copy does
            copied[s.id] = 3
        })
        #expect(copied == [1: 3])
        let chunk = try #require(step.first { $0.sequence === second })
        #expect(chunk.start == 3 && chunk.tokens == [4] && chunk.samplesNext && chunk.isPrompt)
        _ = other
    }

    @Test func aRemovedSiblingNoLongerBlocks() throws {
        var limits = SchedulerLimits()
        limits.maxBatch = 1
        var scheduler = Scheduler(limits: limits)
        let blocker = try scheduler.submit(id: 0, prompt: [5], maxTokens: 100)
        let first = try scheduler.submit(id: 1, prompt: [1, 2, 3], maxTokens: 2)
        let second = try scheduler.submit(id: 2, prompt: [1, 2, 3], maxTokens: 2, sibling: first)
        _ = scheduler.schedule()
        scheduler.remove(first)  // cancelled while still queued
        scheduler.remove(blocker)
        let step = scheduler.schedule()
        #expect(step.map(\.sequence.id) == [second.id] && step[0].start == 0, "it computes the prompt itself")
    }

    @Test func interactiveRequestsQueueAheadOfBatchWork() throws {
        var limits = SchedulerLimits()
        limits.maxBatch = 1
        var scheduler = Scheduler(limits: limits)
        _ = try scheduler.submit(id: 0, prompt: [1], maxTokens: 1, background: true)
        _ = try scheduler.submit(id: 1, prompt: [1], maxTokens: 1, background: true)
        _ = try scheduler.submit(id: 2, prompt: [1], maxTokens: 1)
        _ = try scheduler.submit(id: 3, prompt: [1], maxTokens: 1)
        _ = try scheduler.submit(id: 4, prompt: [1], maxTokens: 1, background: true)
        #expect(scheduler.waiting.map(\.id) == [2, 3, 0, 1, 4])
    }
}
