import Foundation
import Testing
import Engine

/// The engine on the real model: continuous batching must not change what a
/// request produces (batch invariance), and requests end the way the
/// OpenAI contract says.
@Suite(.enabled(if: modelTestsEnabled, "model-level tests run in release builds (swift test -c release)"))
struct EngineTests {
    static let policy = """
        You are a content moderator. Classify each post as ALLOW or BLOCK. Block posts that contain threats, \
        harassment, personal data such as phone numbers or addresses, spam links, or instructions for causing harm. \
        Allow everything else, including criticism, jokes and strong opinions. Answer with one word.
        """
    static let prompts: [[Int32]] = [
        DefaultModel.chat("What is the capital of France?"),
        DefaultModel.chat("Post: I love this new phone, the camera is great.", system: policy),
        DefaultModel.chat(String(repeating: "Summarise the history of the printing press in Europe. ", count: 6)),
        DefaultModel.chat("Post: call me at 555-0100 for cheap watches!!!", system: policy),
        DefaultModel.chat("Write a haiku about rain."),
        DefaultModel.chat("Tell me a long story about a lighthouse keeper."),
    ]

    static func greedy(_ prompt: [Int32], maxTokens: Int = 24) -> GenerationRequest {
        GenerationRequest(prompt: prompt, sampling: SamplingParameters(temperature: 0), maxTokens: maxTokens)
    }

    /// Each request alone, on an engine with no prefix cache.
    static func alone(_ requests: [GenerationRequest]) async throws -> [Collected] {
        let engine = DefaultModel.engine { $0.prefixCache = false }
        defer { engine.shutdown() }
        var results: [Collected] = []
        for r in requests { results.append(try await engine.run(r)) }
        return results
    }

    @Test func greedyOutputIgnoresWhatSharesTheBatch() async throws {
        let requests = Self.prompts.prefix(5).map { Self.greedy($0) }
        let reference = try await Self.alone(requests)

        // Small steps, so long prompts are cut into chunks that share steps with decode rows.
        let engine = DefaultModel.engine { $0.limits.stepTokens = 48 }
        defer { engine.shutdown() }
        var sampling = SamplingParameters(temperature: 0.8)
        sampling.seed = 3
        let (victim, victimEvents) = try engine.stream(GenerationRequest(prompt: Self.prompts[5], sampling: sampling,
                                                                          maxTokens: 500, ignoreEndOfTurn: true))
        let first = (0..<3).map { i in Task { try await engine.run(requests[i]) } }
        var late: [Task<Collected, Error>] = []
        var victimResult: GenerationResult?
        var pieces = 0
        for await event in victimEvents {
            switch event {
            case .piece:
                pieces += 1
                if pieces == 4 {  // two requests join mid-flight, then the long one is cancelled
                    late = (3..<5).map { i in Task { try await engine.run(requests[i]) } }
                }
                if pieces == 12 { victim.cancel() }
            case .finished(let result): victimResult = result
            }
        }
        var busy: [Collected] = []
        for task in first + late { busy.append(try await task.value) }

        for (i, (ours, alone)) in zip(busy, reference).enumerated() {
            #expect(ours.tokens == alone.tokens, "request \(i) changed when batched")
            #expect(ours.text == alone.text && ours.pieces[0] == ours.text)
            #expect(ours.result?.usage.promptTokens == requests[i].prompt.count)
        }
        #expect(victimResult?.choices[0].finishReason == .cancelled)
        #expect((victimResult?.usage.completionTokens ?? 0) >= 12, "tokens produced before cancelling are reported")
        #expect((busy[3].result?.usage.cachedPromptTokens ?? 0) > 60, "the shared policy prompt came from the prefix cache")
        let metrics = engine.metrics()
        #expect(metrics.activeSequences == 0 && metrics.queuedSequences == 0)
        #expect(metrics.finishedRequests["cancelled"] == 1)
        #expect(metrics.stepSequences > metrics.steps, "steps carried several sequences")
    }

    @Test func seededSamplingIgnoresWhatSharesTheBatch() async throws {
        var sampling = SamplingParameters(temperature: 0.9, topK: 40, topP: 0.95)
        sampling.seed = 1234
        let request = GenerationRequest(prompt: Self.prompts[4], sampling: sampling, maxTokens: 32)
        let reference = try await Self.alone([request])[0]

        let engine = DefaultModel.engine()
        defer { engine.shutdown() }
        let neighbours = (0..<4).map { i in
            Task { try await engine.run(GenerationRequest(prompt: Self.prompts[i], maxTokens: 40)) }
        }
        let ours = try await engine.run(request)
        for n in neighbours { _ = try await n.value }
        #expect(ours.tokens == reference.tokens)
        #expect(ours.tokens.count > 3)
    }

    @Test func choicesShareThePromptAndFollowTheirOwnSeeds() async throws {
        var sampling = SamplingParameters(temperature: 1.0)
        sampling.seed = 99
        var request = GenerationRequest(prompt: Self.prompts[0], sampling: sampling, maxTokens: 16)
        var second = request
        second.sampling.seed = 100
        let singles = try await Self.alone([request, second])

        let engine = DefaultModel.engine()
        defer { engine.shutdown() }
        request.choices = 3
        let result = try #require(try await engine.run(request).result)
        #expect(result.choices.map(\.index) == [0, 1, 2])
        #expect(result.choices[0].tokens.map(\.id) == singles[0].tokens, "choice 0 uses the seed")
        #expect(result.choices[1].tokens.map(\.id) == singles[1].tokens, "choice 1 uses seed + 1")
        #expect(result.usage.promptTokens == request.prompt.count, "the prompt is billed once")
        #expect(result.usage.completionTokens == result.choices.reduce(0) { $0 + $1.tokens.count })
        #expect(engine.metrics().cachedPromptTokens >= 2 * (request.prompt.count - 1), "choices copied the first one's prompt")
    }

    @Test func prefixCacheHitsGiveTheSameTokens() async throws {
        let request = Self.greedy(Self.prompts[3], maxTokens: 12)
        let reference = try await Self.alone([request])[0]
        let engine = DefaultModel.engine()
        defer { engine.shutdown() }
        let warm = try await engine.run(Self.greedy(Self.prompts[1], maxTokens: 4))
        #expect(warm.result?.usage.cachedPromptTokens == 0)
        let hit = try await engine.run(request)
        #expect(hit.tokens == reference.tokens)
        let cached = try #require(hit.result?.usage.cachedPromptTokens)
        #expect(cached > 60 && cached < request.prompt.count)
        // The same prompt again: everything but the last token is cached.
        let again = try await engine.run(request)
        #expect(again.result?.usage.cachedPromptTokens == request.prompt.count - 1)
        #expect(again.tokens == reference.tokens)
    }

    @Test func stopStringsEndTheChoiceAndAreNotEmitted() async throws {
        let engine = DefaultModel.engine()
        defer { engine.shutdown() }
        var request = Self.greedy(Self.prompts[5], maxTokens: 40)
        let full = try await engine.run(request).text
        let chars = Array(full)
        try #require(chars.count > 30)
        let stop = String(chars[20..<24])
        request.stop = ["never-appears", stop]
        let stopped = try await engine.run(request)
        let expected = String(full[..<full.range(of: stop)!.lowerBound])
        #expect(stopped.text == expected)
        #expect(stopped.pieces[0] == expected, "streamed pieces hold back the stop string too")
        #expect(stopped.result?.choices[0].finishReason == .stop)
        #expect(stopped.result?.choices[0].stopString == stop)
    }

    @Test func lengthLimitsEndWithLength() async throws {
        let prompt = Self.prompts[0]
        let engine = DefaultModel.engine { $0.limits.context = prompt.count + 3 }
        defer { engine.shutdown() }
        let capped = try await engine.run(GenerationRequest(prompt: prompt, maxTokens: 2, ignoreEndOfTurn: true))
        #expect(capped.result?.usage.completionTokens == 2)
        #expect(capped.result?.choices[0].finishReason == .length)
        let contextBound = try await engine.run(GenerationRequest(prompt: prompt, ignoreEndOfTurn: true))
        #expect(contextBound.result?.usage.completionTokens == 3, "generation stops at the context")
        #expect(contextBound.result?.choices[0].finishReason == .length)
        let metrics = engine.metrics()
        #expect(metrics.timeToFirstToken.count == 2 && metrics.generatedTokens == 5)
        #expect(metrics.interTokenLatency.count == 3)
    }

    @Test func endOfTurnStopsWithoutText() async throws {
        let engine = DefaultModel.engine()
        defer { engine.shutdown() }
        let result = try #require(try await engine.run(Self.greedy(DefaultModel.chat("Say hello."), maxTokens: 200)).result)
        let choice = result.choices[0]
        #expect(choice.finishReason == .stop && choice.stopString == nil)
        #expect(DefaultModel.tokenizer.endOfTurnIDs.contains(choice.tokens.last!.id))
        #expect(!choice.text.contains("<|im_end|>"))
    }

    @Test func invalidRequestsFailAtSubmission() throws {
        let engine = DefaultModel.engine {
            $0.limits.context = 64
            $0.limits.kvTokens = 100
        }
        func submit(_ r: GenerationRequest) throws(EngineError) { try engine.submit(r) { _ in } }
        #expect(throws: EngineError.emptyPrompt) { try submit(GenerationRequest(prompt: [])) }
        #expect(throws: EngineError.promptTooLong(tokens: 64, context: 64)) { try submit(GenerationRequest(prompt: Array(repeating: 5, count: 64))) }
        #expect(throws: EngineError.exceedsKVBudget(tokens: 120, budget: 100)) {
            try submit(GenerationRequest(prompt: [5, 6], maxTokens: 58, choices: 2))
        }
        #expect(throws: EngineError.invalidChoices(0)) { try submit(GenerationRequest(prompt: [5], choices: 0)) }
        #expect(throws: EngineError.invalidMaxTokens(0)) { try submit(GenerationRequest(prompt: [5], maxTokens: 0)) }
        #expect(throws: EngineError.invalidSampling(.temperature(-1))) {
            try submit(GenerationRequest(prompt: [5], sampling: SamplingParameters(temperature: -1)))
        }
        #expect(throws: EngineError.invalidSampling(.topP(0))) { try submit(GenerationRequest(prompt: [5], sampling: SamplingParameters(topP: 0))) }
        #expect(throws: EngineError.tokenOutOfVocabulary(token: 49152, vocabularySize: 49152)) { try submit(GenerationRequest(prompt: [49152])) }
        #expect(EngineError.invalidSampling(.topP(0)).parameter == "top_p")
        engine.shutdown()
        #expect(throws: EngineError.shuttingDown) { try submit(GenerationRequest(prompt: [5])) }
    }

    @Test func fullQueueRefusesAtOnce() throws {
        // A long batch window keeps everything queued while the test fills the queue.
        let engine = DefaultModel.engine {
            $0.limits.maxQueue = 3
            $0.batchWindow = 60
        }
        let finished = Counter()
        for _ in 0..<3 { try engine.submit(GenerationRequest(prompt: [5, 6], maxTokens: 4)) { if case .finished = $0 { finished.add() } } }
        #expect(throws: EngineError.queueFull(waiting: 3)) { try engine.submit(GenerationRequest(prompt: [5], maxTokens: 4)) { _ in } }
        #expect(throws: EngineError.queueFull(waiting: 3)) { try engine.submit(GenerationRequest(prompt: [5], maxTokens: 4, choices: 2)) { _ in } }
        #expect(engine.metrics().queuedSequences == 3)
        engine.shutdown()
        #expect(finished.value == 3, "shutdown cancels queued requests and still reports them")
    }

    @Test func prefixCacheGivesWayUnderMemoryPressure() async throws {
        let engine = DefaultModel.engine { $0.limits.kvTokens = 150 }
        defer { engine.shutdown() }
        let prompts = ["Name three colours.", "Name three fruits.", "Name three rivers."].map { DefaultModel.chat($0) }
        let reservation = prompts[0].count + 30
        for p in prompts {
            _ = try await engine.run(GenerationRequest(prompt: p, maxTokens: 30, ignoreEndOfTurn: true))
            let m = engine.metrics()
            #expect(m.prefixCacheTokens <= 150, "stored prefixes never exceed the KV budget")
        }
        let m = engine.metrics()
        #expect(m.prefixCacheEntries == 2, "the oldest entry made room for the third request")
        #expect(m.prefixCacheTokens + reservation > 150, "a third entry would not have fitted beside a running request")
    }
}

/// A thread-safe count for callbacks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
