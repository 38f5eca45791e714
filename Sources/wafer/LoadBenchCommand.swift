import Foundation
import Engine
import Runtime

/// `wafer bench --concurrency N`: drives the engine in-process as N clients
/// would, each submitting its next request when the previous one finishes,
/// and reports aggregate throughput and the latency percentiles users see.
enum LoadBench {
    struct Options {
        var concurrency: Int
        var requests: Int
        var promptTokens: Int
        var decodeTokens: Int
        /// Tokens at the head of every prompt that are the same for all requests (the seed's moderation policy).
        var sharedPrefix: Int
        var prefixCache: Bool
        var maxBatch: Int
    }

    struct Result: Encodable {
        let model: String, precision: String, threads: Int
        let concurrency: Int, requests: Int, promptTokens: Int, decodeTokens: Int, sharedPrefixTokens: Int
        let prefixCache: Bool, maxBatch: Int
        let wallSeconds: Double
        let generatedTokensPerSecond: Double
        let totalTokensPerSecond: Double
        let timeToFirstTokenP50: Double, timeToFirstTokenP99: Double
        let latencyP50: Double, latencyP99: Double
        let interTokenLatencyP50: Double?
        let cachedPromptTokens: Int
        let meanBatchOccupancy: Double
        let peakResidentBytes: Int
    }

    static func run(session: ModelSession, path: String, options o: Options, json: Bool) throws -> Int32 {
        var configuration = EngineConfiguration()
        configuration.limits.maxBatch = o.maxBatch
        configuration.limits.maxQueue = max(o.concurrency, 1) + 1
        configuration.limits.kvTokens = max(configuration.limits.kvTokens, o.concurrency * (o.promptTokens + o.decodeTokens))
        configuration.prefixCache = o.prefixCache
        let engine = Engine(model: session.model, tokenizer: session.tokenizer, configuration: configuration)
        defer { engine.shutdown() }

        // Fixed, ordinary token streams drawn with a seeded generator.
        var random = RandomSource(seed: 42)
        let vocab = UInt64(session.model.config.vocabularySize)
        func tokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(random.next() % vocab) } }
        let head = tokens(o.sharedPrefix)
        let prompts = (0..<o.requests).map { _ in head + tokens(o.promptTokens - o.sharedPrefix) }
        func request(_ prompt: [Int32], _ maxTokens: Int) -> GenerationRequest {
            GenerationRequest(prompt: prompt, sampling: SamplingParameters(temperature: 0), maxTokens: maxTokens, ignoreEndOfTurn: true)
        }

        _ = try runAll([request(tokens(16), 4)], concurrency: 1, engine: engine)  // warm-up: kernels, tile probe
        let before = engine.metrics()
        let start = Date()
        let results = try runAll(prompts.map { request($0, o.decodeTokens) }, concurrency: o.concurrency, engine: engine)
        let wall = Date().timeIntervalSince(start)
        let after = engine.metrics()

        let generated = results.reduce(0) { $0 + $1.usage.completionTokens }
        let prompted = results.reduce(0) { $0 + $1.usage.promptTokens }
        let ttft = results.compactMap(\.timing.timeToFirstToken).sorted()
        let latency = results.map(\.timing.total).sorted()
        var itl = after.interTokenLatency
        itl.subtract(before.interTokenLatency)
        let steps = after.steps - before.steps
        let result = Result(
            model: path, precision: session.model.precision.rawValue, threads: ProcessInfo.processInfo.activeProcessorCount,
            concurrency: o.concurrency, requests: o.requests, promptTokens: o.promptTokens, decodeTokens: o.decodeTokens,
            sharedPrefixTokens: o.sharedPrefix, prefixCache: o.prefixCache, maxBatch: o.maxBatch, wallSeconds: wall,
            generatedTokensPerSecond: Double(generated) / wall, totalTokensPerSecond: Double(generated + prompted) / wall,
            timeToFirstTokenP50: percentile(ttft, 0.5), timeToFirstTokenP99: percentile(ttft, 0.99),
            latencyP50: percentile(latency, 0.5), latencyP99: percentile(latency, 0.99),
            interTokenLatencyP50: itl.quantile(0.5),
            cachedPromptTokens: results.reduce(0) { $0 + $1.usage.cachedPromptTokens },
            meanBatchOccupancy: steps > 0 ? Double(after.stepSequences - before.stepSequences) / Double(steps) : 0,
            peakResidentBytes: BenchCommand.peakResidentBytes())
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1000) }
            print("model           \(path) (\(result.precision) precision, \(result.threads) threads)")
            print("load            \(o.requests) requests, \(o.concurrency) concurrent, \(o.promptTokens) prompt tokens "
                  + "(\(o.sharedPrefix) shared, prefix cache \(o.prefixCache ? "on" : "off")), \(o.decodeTokens) generated each")
            print("throughput      \(String(format: "%.1f", result.generatedTokensPerSecond)) generated tok/s, "
                  + "\(String(format: "%.1f", result.totalTokensPerSecond)) total tok/s over \(String(format: "%.2f", wall)) s")
            print("TTFT            P50 \(ms(result.timeToFirstTokenP50))  P99 \(ms(result.timeToFirstTokenP99))")
            print("latency         P50 \(ms(result.latencyP50))  P99 \(ms(result.latencyP99))")
            if let p = result.interTokenLatencyP50 { print("inter-token     P50 ≤ \(ms(p))") }
            print("batch           \(String(format: "%.1f", result.meanBatchOccupancy)) sequences per step on average; "
                  + "\(result.cachedPromptTokens) prompt tokens from the prefix cache")
            print("peak RSS        \(String(format: "%.1f", Double(result.peakResidentBytes) / 1_048_576)) MiB")
        }
        return 0
    }

    /// Runs `requests` keeping at most `concurrency` in flight (closed loop); returns results in completion order.
    static func runAll(_ requests: [GenerationRequest], concurrency: Int, engine: Engine) throws -> [GenerationResult] {
        let state = LoadState(requests: requests)
        let done = DispatchSemaphore(value: 0)
        @Sendable func next() {
            guard let request = state.take() else { return }
            do {
                try engine.submit(request) { event in
                    guard case .finished(let result) = event else { return }
                    if state.finish(result) { done.signal() } else { next() }
                }
            } catch {
                if state.fail(error) { done.signal() }
            }
        }
        for _ in 0..<min(concurrency, requests.count) { next() }
        if !requests.isEmpty { done.wait() }
        if let error = state.error { throw error }
        return state.results
    }

    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = max(1, Int((q * Double(sorted.count)).rounded(.up)))
        return sorted[rank - 1]
    }
}

/// The load generator's shared bookkeeping (callbacks arrive on the engine thread).
private final class LoadState: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [GenerationRequest]
    private let total: Int
    private(set) var results: [GenerationResult] = []
    private(set) var error: Error?

    init(requests: [GenerationRequest]) {
        pending = requests.reversed()
        total = requests.count
    }

    func take() -> GenerationRequest? { lock.withLock { pending.popLast() } }

    /// Records a result; true when it was the last.
    func finish(_ result: GenerationResult) -> Bool {
        lock.withLock {
            results.append(result)
            return results.count == total
        }
    }

    /// Records a refused submission; true when nothing more will finish.
    func fail(_ e: Error) -> Bool {
        lock.withLock {
            error = e
            pending.removeAll()
            return true
        }
    }
}
