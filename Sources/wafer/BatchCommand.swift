import Foundation
import Batch
import Engine
import Metering
import Serving

/// `wafer batch INPUT.jsonl -o OUTPUT.jsonl`: an OpenAI Batch API file through
/// the engine at full continuous-batching throughput, resumable.
enum BatchCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        // -o is the one short option, as OpenAI's docs and most tools spell the output file.
        let a = try Arguments(ArraySlice(args.map { $0 == "-o" ? "--output" : $0 }), valued: ["output", "errors", "model", "model-id", "max-batch", "precision", "ledger", "prices", "ctx", "chat-template"])
        guard a.positional.count == 1, let output = a.string("output") else {
            throw UsageError("usage: wafer batch INPUT.jsonl -o OUTPUT.jsonl [--errors ERRORS.jsonl] [--model PATH] [--max-batch N]")
        }
        let input = a.positional[0]
        let errors = a.string("errors") ?? output + ".errors.jsonl"
        let maxBatch = try a.int("max-batch", default: 32)
        guard maxBatch > 0 else { throw UsageError("--max-batch must be positive") }
        let (prices, ledger) = try openMeter(pricesPath: a.string("prices"), ledger: a.string("ledger") ?? "data/ledger.db")
        defer { ledger.close() }

        let service = Service(meter: Meter(prices: prices, ledger: ledger))
        let runner: BatchRunner
        do {
            runner = try BatchRunner(service: service, input: input, output: output, errors: errors, workers: maxBatch,
                                     batchID: try batchID(output: output))
        } catch {
            throw UsageError("\(error)")
        }
        let path = modelPath(a.string("model"))
        let session = try ModelSession(path: path, precision: try parsePrecision(a.string("precision")),
                                       chatTemplate: try chatTemplateOption(a))
        var configuration = EngineConfiguration()
        configuration.limits.maxBatch = maxBatch
        configuration.limits.maxQueue = maxBatch
        configuration.limits.context = try a.int("ctx", default: Int.max)
        let engine = Engine(model: session.model, tokenizer: session.tokenizer, configuration: configuration)
        defer { engine.shutdown() }
        let id = modelIdentifier(a, path: path)
        service.ready(ServedModel(id: id, engine: engine, tokenizer: session.tokenizer, template: session.template))

        let progress = ProgressReporter(runner: runner)
        progress.start()
        let summary = runner.run()
        progress.stop()
        print(report(summary, batchID: runner.batchID, output: output, errors: errors, prices: prices))
        return summary.interrupted ? 1 : 0
    }

    /// A batch is its output file: the same id on every run that appends to it
    /// (so resumed lines find their ledger rows), a new one once it is replaced.
    static func batchID(output: String) throws -> String {
        let path = URL(fileURLWithPath: output).standardizedFileURL.path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw BatchError("cannot create \(output)") }
        }
        let inode = (try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
        return "batch_" + LedgerRow.stableID(path, String(inode))
    }

    static func report(_ s: BatchRunner.Summary, batchID: String, output: String, errors: String, prices: PriceSheet) -> String {
        let tokens = s.promptTokens + s.completionTokens
        var lines = [
            "batch \(batchID): \(s.succeeded) ok, \(s.failed) refused or failed (in \(output)), \(s.invalid) not requests (in \(errors)), "
                + "\(s.skipped) done by an earlier run",
            "tokens: \(s.promptTokens) prompt + \(s.completionTokens) completion in \(String(format: "%.1f", s.seconds)) s "
                + "(\(String(format: "%.1f", Double(tokens) / max(s.seconds, 1e-9))) tok/s)",
            "cost: $\(s.cost) at the flat rate",
        ]
        for c in prices.comparisons(promptTokens: s.promptTokens, completionTokens: s.completionTokens, billed: s.cost) {
            lines.append("  at \(c.provider): $\(c.costUsd) (saving \(c.savingPercent)%)")
        }
        return lines.joined(separator: "\n")
    }
}

/// A progress bar on a terminal (stderr), a plain line every 10 s otherwise.
final class ProgressReporter: @unchecked Sendable {  // `running` under `lock`
    private let runner: BatchRunner
    private let lock = NSLock()
    private var running = true
    private let finished = DispatchSemaphore(value: 0)
    /// Signalled by `stop`, so the reporter wakes at once rather than at its next tick.
    private let stopping = DispatchSemaphore(value: 0)
    private let terminal = isatty(2) == 1

    init(runner: BatchRunner) { self.runner = runner }

    func start() {
        Thread.detachNewThread { [self] in
            let interval = terminal ? 0.5 : 10.0
            while lock.withLock({ running }) {
                guard stopping.wait(timeout: .now() + interval) == .timedOut else { break }
                FileHandle.standardError.write(Data(line(runner.progress).utf8))
            }
            finished.signal()
        }
    }

    func stop() {
        lock.withLock { running = false }
        stopping.signal()
        finished.wait()
        if terminal { FileHandle.standardError.write(Data((line(runner.progress) + "\n").utf8)) }
    }

    private func line(_ s: BatchRunner.Summary) -> String {
        let todo = max(s.total - s.skipped, 1)
        let fraction = min(Double(s.done) / Double(todo), 1)
        let rate = Double(s.promptTokens + s.completionTokens) / max(s.seconds, 1e-9)
        let eta = s.done > 0 ? s.seconds / Double(s.done) * Double(todo - s.done) : 0
        let text = "\(s.done)/\(todo) lines, \(String(format: "%.0f", rate)) tok/s, $\(s.cost), ETA \(String(format: "%.0f", eta)) s"
        guard terminal else { return "wafer batch: \(text)\n" }
        let width = 30, filled = Int(fraction * Double(width))
        return "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + text
    }
}
