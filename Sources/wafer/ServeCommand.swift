import Foundation
import Batch
import Engine
import Metering
import Server
import Serving
import Upstream

/// `wafer serve`: the OpenAI-compatible HTTP API on one resident model.
enum ServeCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        let a = try Arguments(args, valued: ["model", "model-id", "host", "port", "precision", "max-batch", "max-queue", "kv-tokens",
                                             "ctx", "batch-window-ms", "api-keys", "max-body-bytes", "max-connections",
                                             "max-connections-per-address", "max-header-bytes", "max-n", "max-stop", "max-prompt-tokens",
                                             "request-timeout", "header-timeout", "body-timeout", "idle-timeout", "shutdown-grace", "prices", "ledger", "data-dir", "kv",
                                             "model-alias", "cors-origin", "upstream", "upstream-key-file", "overflow-queue-depth",
                                             "upstream-model", "upstream-timeout", "chat-template", "batch-poll"],
                              flags: ["no-prefix-cache"])
        let path = modelPath(a.string("model"))
        let precision = try parsePrecision(a.string("precision"))
        let kv = try parseKVPrecision(a.string("kv"))
        let chatTemplate = try chatTemplateOption(a)
        let host = a.string("host") ?? "127.0.0.1"
        let port = try a.int("port", default: 8080)
        guard (0...65535).contains(port) else { throw UsageError("--port must be between 0 and 65535") }
        var engine = EngineConfiguration()
        engine.limits.maxBatch = try a.int("max-batch", default: 32)
        engine.limits.maxQueue = try a.int("max-queue", default: 256)
        engine.limits.kvTokens = try a.int("kv-tokens", default: engine.limits.kvTokens)
        engine.limits.context = try a.int("ctx", default: Int.max)
        engine.batchWindow = try a.double("batch-window-ms", default: 0) / 1000
        engine.prefixCache = !a.has("no-prefix-cache")
        guard engine.limits.maxBatch > 0, engine.limits.maxQueue >= 0, engine.limits.kvTokens > 0, engine.limits.context > 1,
              engine.batchWindow >= 0 else { throw UsageError("--max-batch, --kv-tokens and --ctx must be positive") }
        var limits = HTTPLimits()
        limits.maxBodyBytes = try a.int("max-body-bytes", default: limits.maxBodyBytes)
        limits.maxConnections = try a.int("max-connections", default: limits.maxConnections)
        limits.maxConnectionsPerAddress = try a.int("max-connections-per-address", default: limits.maxConnectionsPerAddress)
        limits.headerTimeoutSeconds = try a.double("header-timeout", default: limits.headerTimeoutSeconds)
        limits.bodyTimeoutSeconds = try a.double("body-timeout", default: limits.bodyTimeoutSeconds)
        guard limits.maxConnections > 0, limits.maxConnectionsPerAddress > 0, limits.headerTimeoutSeconds > 0,
              limits.bodyTimeoutSeconds > 0 else {
            throw UsageError("--max-connections, --max-connections-per-address, --header-timeout and --body-timeout must be positive")
        }
        limits.idleTimeoutSeconds = UInt32(clamping: try a.int("idle-timeout", default: Int(limits.idleTimeoutSeconds)))
        // MHD needs room beyond the headers for its own buffers: 4 KiB at least.
        limits.maxHeaderBytes = try a.int("max-header-bytes", default: limits.maxHeaderBytes)
        guard limits.maxHeaderBytes >= 4096 else { throw UsageError("--max-header-bytes must be at least 4096") }
        var requestLimits = RequestLimits()
        requestLimits.maxChoices = try a.int("max-n", default: requestLimits.maxChoices)
        requestLimits.maxStopStrings = try a.int("max-stop", default: requestLimits.maxStopStrings)
        requestLimits.maxPromptTokens = try a.int("max-prompt-tokens", default: requestLimits.maxPromptTokens)
        requestLimits.timeoutSeconds = try a.double("request-timeout", default: requestLimits.timeoutSeconds)
        guard (1...128).contains(requestLimits.maxChoices), requestLimits.maxStopStrings >= 0, requestLimits.maxPromptTokens > 0,
              requestLimits.timeoutSeconds > 0 else {
            throw UsageError("--max-n must be 1 to 128, --max-stop 0 or more, --max-prompt-tokens and --request-timeout positive")
        }
        let grace = try a.double("shutdown-grace", default: 10)
        let batchPoll = try a.double("batch-poll", default: 2)
        guard batchPoll > 0 else { throw UsageError("--batch-poll must be positive") }
        let keys: APIKeys?
        do { keys = try a.string("api-keys").map { try APIKeys(file: $0) } } catch { throw UsageError("\(error)") }

        let dataDirectory = a.string("data-dir") ?? "data"
        let (prices, ledger) = try openMeter(pricesPath: a.string("prices"), ledger: a.string("ledger") ?? dataDirectory + "/ledger.db")
        let service = Service(meter: Meter(prices: prices, ledger: ledger), overflow: try overflowRoute(a), limits: requestLimits)
        let api = APIServer(keys: keys, bodyLimit: limits.maxBodyBytes, service: service, corsOrigin: a.string("cors-origin"))
        // Batches take half the batch slots at most, so interactive requests always find room.
        let batches: BatchAPI
        do { batches = try BatchAPI(service: service, dataDirectory: dataDirectory, workers: max(1, engine.limits.maxBatch / 2)) } catch {
            throw UsageError("cannot use the data directory \(dataDirectory): \(error)")
        }
        api.register(batches.routes)
        let http = HTTPServer(limits: limits) { api.handle($0) }
        do { try http.start(host: host, port: UInt16(port)) } catch { throw UsageError("\(error)") }
        log("listening on http://\(host):\(http.port) (loading \(path))")

        // The model loads while /health answers 503; if it cannot load, the server says why and exits with 1.
        let served = Locked<Engine?>(nil)
        let exitCode = Locked<Int32>(0)
        let stop = DispatchSemaphore(value: 0)
        let configuration = engine
        Thread.detachNewThread {
            do {
                let session = try ModelSession(path: path, precision: precision, kvPrecision: kv, chatTemplate: chatTemplate)
                let engineInstance = Engine(model: session.model, tokenizer: session.tokenizer, configuration: configuration)
                served.set(engineInstance)
                let id = modelIdentifier(a, path: path)
                service.ready(ServedModel(id: id, aliases: a.strings("model-alias"), engine: engineInstance, tokenizer: session.tokenizer,
                                          template: session.template))
                batches.resumeUnfinished(every: batchPoll)
                log("ready: model '\(id)' (\(precision.rawValue) precision, context \(engineInstance.limits.context))")
            } catch {
                service.failedToLoad("\(error)")
                log("error: \(error)")
                exitCode.set(1)
                stop.signal()
            }
        }

        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        stop.wait()
        log("shutting down: finishing requests in flight for up to \(grace) s")
        http.stopAccepting()
        batches.interruptRunners()
        served.get()?.shutdown(grace: grace)
        batches.waitForRunners(timeout: 5)
        // Let connection threads send the last events of cancelled streams.
        Thread.sleep(forTimeInterval: 0.2)
        http.stop()
        ledger.close()
        log("stopped")
        return exitCode.get()
    }

    /// `--upstream URL` and its options: where bursts go (nil without `--upstream`).
    static func overflowRoute(_ a: Arguments) throws -> OverflowRoute? {
        guard let url = a.string("upstream") else {
            for option in ["upstream-key-file", "overflow-queue-depth", "upstream-model", "upstream-timeout"] where a.string(option) != nil {
                throw UsageError("--\(option) needs --upstream URL")
            }
            return nil
        }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw UsageError("--upstream must be an http(s) URL, got '\(url)'") }
        let key = try a.string("upstream-key-file").map { path in
            do { return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) } catch {
                throw UsageError("cannot read the upstream key file \(path)")
            }
        }
        let depth = try a.int("overflow-queue-depth", default: 64)
        let timeout = try a.double("upstream-timeout", default: 30)
        guard depth >= 0, timeout > 0 else { throw UsageError("--overflow-queue-depth must be 0 or more and --upstream-timeout positive") }
        return OverflowRoute(client: UpstreamClient(baseURL: url, apiKey: key, firstByteTimeout: timeout), queueDepth: depth,
                             model: a.string("upstream-model"))
    }

    static func log(_ message: String) {
        FileHandle.standardError.write(Data("wafer: \(message)\n".utf8))
    }
}

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}
