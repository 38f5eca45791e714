import Foundation
import Engine
import Metering
import Runtime

/// `wafer plan --tokens 1e9 --prompt-tokens 500 --completion-tokens 100`: the
/// seed's capacity arithmetic from this machine's measured throughput: how
/// long a job takes, what it costs on each tier and at each reference
/// provider, and how many instances a daily volume needs.
enum PlanCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        let a = try Arguments(args, valued: ["tokens", "prompt-tokens", "completion-tokens", "concurrency", "throughput", "daily-tokens",
                                             "prices", "model", "model-id", "precision", "burst-daily-tokens"], flags: ["json"])
        let tokens = try a.double("tokens", default: 1e9)
        let prompt = try a.int("prompt-tokens", default: 500), completion = try a.int("completion-tokens", default: 100)
        let concurrency = try a.int("concurrency", default: 8)
        guard tokens > 0, prompt > 0, completion > 0, concurrency > 0 else {
            throw UsageError("--tokens, --prompt-tokens, --completion-tokens and --concurrency must be positive")
        }
        let path = modelPath(a.string("model"))
        let modelID = modelIdentifier(a, path: path)
        let prices: PriceSheet
        do { prices = try a.string("prices").map { try PriceSheet(file: $0) } ?? .standard } catch { throw UsageError("\(error)") }
        guard let price = prices.price(for: modelID) else { throw UsageError("the price sheet has no price for \(modelID) and no \"*\"") }

        let throughput: Double, source: String
        if let given = a.string("throughput") {
            guard let t = Double(given), t > 0 else { throw UsageError("--throughput must be a positive number of tokens per second") }
            (throughput, source) = (t, "given")
        } else {
            throughput = try measure(path: path, precision: try parsePrecision(a.string("precision")), prompt: prompt,
                                     completion: completion, concurrency: concurrency)
            source = "measured: \(concurrency) concurrent requests of \(prompt) + \(completion) tokens"
        }
        let daily = try a.double("daily-tokens", default: tokens / 30)
        let promptShare = Double(prompt) / Double(prompt + completion)
        let promptTokens = Int((tokens * promptShare).rounded()), completionTokens = Int(tokens.rounded()) - Int((tokens * promptShare).rounded())
        let total = promptTokens + completionTokens
        let onDemand = Cost.of(tokens: total, perMillion: price.onDemandPerMillion)
        let reserved = Cost.of(tokens: max(total, price.reservedCommitmentTokensPerMonth), perMillion: price.reservedPerMillion)
        let days = tokens / throughput / 86_400
        let instances = Int((daily / (throughput * 86_400)).rounded(.up))

        print("model           \(modelID)")
        print("throughput      \(String(format: "%.1f", throughput)) tokens/s, prompt and completion (\(source))")
        print("job             \(total) tokens (\(promptTokens) prompt, \(completionTokens) completion) = "
              + "\(String(format: "%.2f", days)) days on one instance")
        print("on demand       $\(onDemand) at $\(price.onDemandPerMillion)/M")
        print("reserved        $\(reserved) at $\(price.reservedPerMillion)/M, committed \(price.reservedCommitmentTokensPerMonth) tokens/month")
        for c in prices.comparisons(promptTokens: promptTokens, completionTokens: completionTokens, billed: onDemand) {
            print("\(c.provider.padding(toLength: 16, withPad: " ", startingAt: 0))$\(c.costUsd) (on demand here saves \(c.savingPercent)%)")
        }
        print("capacity        \(Int(daily)) tokens/day needs \(instances) instance\(instances == 1 ? "" : "s") at this throughput")
        if let burst = try a.string("burst-daily-tokens").map({ _ in try a.double("burst-daily-tokens", default: 0) }) {
            guard burst >= 0 else { throw UsageError("--burst-daily-tokens must not be negative") }
            for line in hybrid(daily: daily, burst: burst, promptShare: promptShare, price: price, upstream: prices.upstream) { print(line) }
        }
        return 0
    }

    /// The seed's pattern 3: `daily` tokens a day served here at the reserved rate, `burst` a day sent to
    /// the upstream at its split rates (this job's prompt/completion mix), against everything upstream.
    static func hybrid(daily: Double, burst: Double, promptShare: Double, price: PriceSheet.ModelPrice,
                       upstream: PriceSheet.ReferenceProvider) -> [String] {
        func upstreamCost(_ tokens: Double) -> Decimal {
            let prompt = Int((tokens * promptShare).rounded())
            return Cost.of(tokens: prompt, perMillion: upstream.promptPerMillion)
                + Cost.of(tokens: Int(tokens.rounded()) - prompt, perMillion: upstream.completionPerMillion)
        }
        let monthlyLocal = Int((daily * 30).rounded())
        let localMonth = Cost.of(tokens: max(monthlyLocal, price.reservedCommitmentTokensPerMonth), perMillion: price.reservedPerMillion)
        let burstMonth = upstreamCost(burst) * 30
        let allUpstreamMonth = upstreamCost(daily + burst) * 30
        let percent = Int((Double(truncating: (1 - (localMonth + burstMonth) / allUpstreamMonth) as NSNumber) * 100).rounded())
        return [
            "hybrid          \(Int(daily)) tokens/day here (reserved, $\(price.reservedPerMillion)/M) + \(Int(burst)) tokens/day burst "
                + "to \(upstream.name) ($\(upstream.promptPerMillion)/$\(upstream.completionPerMillion) per M prompt/completion)",
            "  per month     here $\(localMonth) + burst $\(burstMonth) = $\(localMonth + burstMonth); all at \(upstream.name) "
                + "$\(allUpstreamMonth) (the hybrid saves \(percent)%)",
        ]
    }

    /// Tokens per second (prompt + completion) with `concurrency` requests of the job's shape at once.
    static func measure(path: String, precision: Precision, prompt: Int, completion: Int, concurrency: Int) throws -> Double {
        let session = try ModelSession(path: path, precision: precision)
        guard prompt + completion <= session.model.config.contextLength else { throw UsageError("a request of that shape exceeds the context") }
        var configuration = EngineConfiguration()
        configuration.limits.maxBatch = concurrency
        configuration.limits.kvTokens = max(configuration.limits.kvTokens, concurrency * (prompt + completion))
        let engine = Engine(model: session.model, tokenizer: session.tokenizer, configuration: configuration)
        defer { engine.shutdown() }
        var random = RandomSource(seed: 11)
        let vocab = UInt64(session.model.config.vocabularySize)
        let requests = (0..<concurrency).map { _ in
            GenerationRequest(prompt: (0..<prompt).map { _ in Int32(random.next() % vocab) }, sampling: SamplingParameters(temperature: 0),
                              maxTokens: completion, ignoreEndOfTurn: true)
        }
        let start = Date()
        let results = try LoadBench.runAll(requests, concurrency: concurrency, engine: engine)
        return Double(results.reduce(0) { $0 + $1.usage.totalTokens }) / Date().timeIntervalSince(start)
    }
}
