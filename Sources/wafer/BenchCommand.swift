import Foundation
import Engine
import Runtime

/// `wafer bench`: prompt processing (one 512-token prompt) and single-stream
/// decode (128 tokens) on the loaded model, plus peak resident memory; with
/// `--concurrency N`, the engine under N simultaneous clients (LoadBench).
enum BenchCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        let a = try Arguments(args, valued: ["model", "precision", "prompt-tokens", "decode-tokens", "repeat", "concurrency",
                                             "requests", "shared-prefix", "max-batch", "kv", "depth", "kernels"],
                              flags: ["json", "no-prefix-cache"])
        let path = modelPath(a.string("model"))
        let precision = try parsePrecision(a.string("precision"))
        let concurrency = try a.int("concurrency", default: 0)
        let promptLength = try a.int("prompt-tokens", default: concurrency > 0 ? 64 : 512)
        let decodeLength = try a.int("decode-tokens", default: 128)
        let repeats = try a.int("repeat", default: 3)
        // Decode after this many cached positions (llama-bench's depth): attention then reads their keys and values too.
        let depth = try a.int("depth", default: 0)
        guard promptLength > 0, decodeLength > 0, repeats > 0, depth >= 0 else {
            throw UsageError("token counts and --repeat must be positive, --depth not negative")
        }

        if let name = a.string("kernels") {  // another variant than the best, to compare them on one machine
            guard let set = InstructionSet.allCases.first(where: { $0.name == name }), InstructionSet.use(set) else {
                let runnable = InstructionSet.allCases.filter(\.isSupported).map(\.name)
                throw UsageError("--kernels must be one of the variants this CPU runs: \(runnable.joined(separator: ", "))")
            }
        }

        let loadStart = Date()
        let session = try ModelSession(path: path, precision: precision, kvPrecision: try parseKVPrecision(a.string("kv")))
        let loadSeconds = Date().timeIntervalSince(loadStart)
        if concurrency > 0 {
            let options = LoadBench.Options(
                concurrency: concurrency, requests: try a.int("requests", default: 2 * concurrency), promptTokens: promptLength,
                decodeTokens: decodeLength, sharedPrefix: try a.int("shared-prefix", default: 0),
                prefixCache: !a.has("no-prefix-cache"), maxBatch: try a.int("max-batch", default: 32))
            guard options.requests > 0, options.maxBatch > 0, (0..<promptLength).contains(options.sharedPrefix) else {
                throw UsageError("--requests and --max-batch must be positive, --shared-prefix below --prompt-tokens")
            }
            return try LoadBench.run(session: session, path: path, options: options, json: a.has("json"))
        }
        let model = session.model
        guard promptLength + decodeLength <= model.config.contextLength, max(depth, 1) + decodeLength <= model.config.contextLength else {
            throw UsageError("prompt or depth and decode exceed the context")
        }
        // A fixed, ordinary token stream: ids drawn from the vocabulary with a seeded generator.
        var random = RandomSource(seed: 42)
        let prompt = (0..<promptLength).map { _ in Int32(random.next() % UInt64(model.config.vocabularySize)) }
        let cached = depth == 0 ? [prompt[0]] : (0..<depth).map { _ in Int32(random.next() % UInt64(model.config.vocabularySize)) }

        var promptRates: [Double] = [], decodeRates: [Double] = []
        // Counted after the first round, once the model's scratch has grown to fit.
        var decodeAllocations: UInt64 = 0
        for round in 0..<repeats {
            let cache = model.makeCache(capacity: promptLength + decodeLength)
            var start = Date()
            var logits = try model.forward([SequenceInput(cache: cache, tokens: prompt, kind: .prompt)])
            promptRates.append(Double(promptLength) / Date().timeIntervalSince(start))

            let decodeCache = model.makeCache(capacity: cached.count + decodeLength)
            logits = try model.forward([SequenceInput(cache: decodeCache, tokens: cached, kind: .prompt)])
            start = Date()
            for _ in 0..<decodeLength {
                let step = greedyStep(decodeCache, logits)
                let before = AllocationCount.now
                try model.forward(step, logits: &logits)
                if round > 0, let before, let after = AllocationCount.now { decodeAllocations += after - before }
            }
            decodeRates.append(Double(decodeLength) / Date().timeIntervalSince(start))
        }
        let (bandwidth, peakBandwidth, decodeShare) = try decodeAgainstBandwidth(model, firstToken: prompt[0], steps: decodeLength)
        let decodeLimit = bandwidth / Double(model.weightBytesPerToken)
        let integerRate = model.measureIntegerRate()
        let result = BenchResult(model: path, precision: precision.rawValue, threads: ProcessInfo.processInfo.activeProcessorCount,
                                 loadSeconds: loadSeconds, kernels: InstructionSet.current.name, promptTokens: promptLength, promptTokensPerSecond: median(promptRates),
                                 decodeTokens: decodeLength, decodeDepth: depth, decodeTokensPerSecond: median(decodeRates),
                                 peakResidentBytes: peakResidentBytes(), memoryBandwidthBytesPerSecond: bandwidth,
                                 weightBytesPerToken: model.weightBytesPerToken, decodeBandwidthLimitTokensPerSecond: decodeLimit,
                                 decodeShareOfBandwidthLimit: decodeShare,
                                 peakBandwidthBytesPerSecond: peakBandwidth,
                                 decodeShareOfPeakBandwidthLimit: median(decodeRates) / (peakBandwidth / Double(model.weightBytesPerToken)),
                                 integerMultiplyAddsPerSecond: integerRate,
                                 promptShareOfIntegerRate: integerRate.map { median(promptRates) * Double(model.multiplyAddsPerPromptToken) / $0 },
                                 decodeAllocationsPerToken: AllocationCount.now.map { _ in
                                     Double(decodeAllocations) / Double(max(repeats - 1, 1) * decodeLength) })
        if a.has("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print("model           \(path) (\(precision.rawValue) precision, \(result.threads) threads, loaded in \(String(format: "%.2f", loadSeconds)) s)")
            print("kernels         \(result.kernels) (this CPU: "
                  + InstructionSet.hardware.map { "\($0.name) \($0.isSupported ? "yes" : "no")" }.joined(separator: ", ") + ")")
            print("prompt          \(promptLength) tokens: \(String(format: "%.1f", result.promptTokensPerSecond)) tok/s (median of \(repeats))")
            print("decode          \(decodeLength) tokens\(depth > 0 ? " after \(depth) cached" : ""): "
                  + "\(String(format: "%.1f", result.decodeTokensPerSecond)) tok/s (median of \(repeats))")
            print("bandwidth       \(String(format: "%.1f", bandwidth / 1e9)) GB/s reading the weights with \(result.threads) threads; "
                  + "\(String(format: "%.1f", Double(model.weightBytesPerToken) / 1e6)) MB of weights per token: decode limit "
                  + "\(String(format: "%.0f", decodeLimit)) tok/s; each decode step ran at \(String(format: "%.0f", 100 * decodeShare))% "
                  + "of the limit measured right after it (median of \(decodeLength) pairs)")
            print("decode vs peak  \(String(format: "%.0f", 100 * result.decodeShareOfPeakBandwidthLimit))% of the limit set by the best "
                  + "weight read (\(String(format: "%.1f", peakBandwidth / 1e9)) GB/s): a figure the machine has shown it reaches")
            if let rate = integerRate, let share = result.promptShareOfIntegerRate {
                print("int8 rate       \(String(format: "%.1f", rate / 1e9)) G multiply-adds/s (\(result.kernels) kernels, 64 rows on cached "
                      + "weights, \(result.threads) threads); prompt processing ran at \(String(format: "%.0f", 100 * share))% of it")
            }
            print("peak RSS        \(String(format: "%.1f", Double(result.peakResidentBytes) / 1_048_576)) MiB")
            print("allocations     " + (result.decodeAllocationsPerToken.map { "\($0) per decode step in the model's forward pass (after the first round)" }
                                         ?? "not counted (run with LD_PRELOAD=.build/release/libWaferAllocationCounter.so)"))
        }
        return 0
    }

    struct BenchResult: Encodable {
        let model: String, precision: String, threads: Int, loadSeconds: Double
        /// The instruction set the integer kernels ran with (`InstructionSet`).
        let kernels: String
        let promptTokens: Int, promptTokensPerSecond: Double
        let decodeTokens: Int, decodeDepth: Int, decodeTokensPerSecond: Double
        let peakResidentBytes: Int
        /// Both threads streaming every weight matrix once, and the decode speed that bandwidth allows (medians).
        let memoryBandwidthBytesPerSecond: Double, weightBytesPerToken: Int, decodeBandwidthLimitTokensPerSecond: Double
        /// Median over decode steps of (step speed ÷ the limit measured right after that step).
        let decodeShareOfBandwidthLimit: Double
        /// The best of those weight reads, and decode (median) as a share of the limit it sets: steadier than the pairs.
        let peakBandwidthBytesPerSecond: Double, decodeShareOfPeakBandwidthLimit: Double
        /// 8-bit multiply-adds per second of the chosen kernels on cached weights (`Model.measureIntegerRate`),
        /// and prompt processing's multiply-adds per second as a share of it; nil in full precision.
        let integerMultiplyAddsPerSecond: Double?, promptShareOfIntegerRate: Double?
        /// Heap allocations inside `Model.forward` per decode step after the first round; nil unless the counter is preloaded.
        let decodeAllocationsPerToken: Double?
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// The next decode step on `cache`: the token `logits` rank first (the
    /// array is made here, outside the forward pass that the counter watches).
    static func greedyStep(_ cache: KVCache, _ logits: [Float]) -> [SequenceInput] {
        [SequenceInput(cache: cache, tokens: [Greedy.argmax(logits)], kind: .generated)]
    }

    /// Memory bandwidth, and decode speed as a share of the limit it sets.
    /// A shared machine's bandwidth swings from second to second, so each
    /// decode step is paired with one read of every weight right after it,
    /// and the share is the median of the pairs' ratios.
    static func decodeAgainstBandwidth(_ model: Model, firstToken: Int32, steps: Int) throws
        -> (bandwidth: Double, peak: Double, share: Double) {
        let cache = model.makeCache(capacity: steps + 1)
        var logits = try model.forward([SequenceInput(cache: cache, tokens: [firstToken], kind: .prompt)])
        var bandwidths: [Double] = [], shares: [Double] = []
        for _ in 0..<steps {
            let step = greedyStep(cache, logits)
            let start = ContinuousClock.now
            try model.forward(step, logits: &logits)
            let stepsPerSecond = 1 / ((ContinuousClock.now - start) / .seconds(1))
            let bandwidth = model.measureWeightBandwidth()
            bandwidths.append(bandwidth)
            shares.append(stepsPerSecond / (bandwidth / Double(model.weightBytesPerToken)))
        }
        return (median(bandwidths), bandwidths.max() ?? 0, median(shares))
    }

    /// VmHWM from /proc/self/status: the peak resident set of this process.
    static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }
}
