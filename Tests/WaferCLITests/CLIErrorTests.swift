import Foundation
import Testing

/// The `wafer` binary on bad input: one clear line on stderr, non-zero exit, no crash.
struct CLIErrorTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: URL {
        #if DEBUG
        packageRoot.appendingPathComponent(".build/debug/wafer")
        #else
        packageRoot.appendingPathComponent(".build/release/wafer")
        #endif
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit, "wafer was killed by a signal")
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    func expectOneLineError(_ r: Result, containing text: String) {
        #expect(r.status != 0)
        #expect(r.stderr.split(separator: "\n").count == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.contains(text), "stderr: \(r.stderr)")
    }

    @Test func missingModelFile() throws {
        let r = try Self.run(["generate", "--model", "/nonexistent/model.gguf", "--prompt", "hi"])
        expectOneLineError(r, containing: "cannot open model file /nonexistent/model.gguf")
    }

    @Test func corruptModelFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wafer-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        let garbage = dir.appendingPathComponent("garbage.gguf")
        try Data("this is not a model file at all".utf8).write(to: garbage)
        expectOneLineError(try Self.run(["generate", "--model", garbage.path, "--prompt", "hi"]), containing: "not a GGUF file")

        // The real model cut short: the tensor table promises bytes the file lacks.
        let model = Self.packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
        if let handle = try? FileHandle(forReadingFrom: model) {
            let head = handle.readData(ofLength: 4_000_000)
            let truncated = dir.appendingPathComponent("truncated.gguf")
            try head.write(to: truncated)
            expectOneLineError(try Self.run(["info", truncated.path]), containing: "truncated GGUF file")
            expectOneLineError(try Self.run(["generate", "--model", truncated.path, "--prompt", "hi"]), containing: "truncated GGUF file")
        }
    }

    @Test func usageErrors() throws {
        let r = try Self.run(["generate", "--prompt", "a", "--chat", "b"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("exactly one of --prompt"))
        #expect(try Self.run(["frobnicate"]).status == 2)
        #expect(try Self.run(["bench", "--precision", "half"]).stderr.contains("--precision must be full or native"))
    }

    @Test func serveRefusesABadPriceSheetOrKeyFileBeforeListening() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wafer-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let prices = dir.appendingPathComponent("prices.json")
        try Data(#"{"models":{"*":{"on_demand_usd_per_mtok":-1,"reserved_usd_per_mtok":0.2}}}"#.utf8).write(to: prices)
        expectOneLineError(try Self.run(["serve", "--port", "0", "--prices", prices.path, "--ledger", dir.appendingPathComponent("l.db").path]),
                           containing: "models.*.on_demand_usd_per_mtok")
        let keys = dir.appendingPathComponent("keys.json")
        try Data(#"{"keys":[{"key":"sk-12345678","name":"a","tier":"platinum"}]}"#.utf8).write(to: keys)
        expectOneLineError(try Self.run(["serve", "--port", "0", "--api-keys", keys.path]), containing: "API key file")
    }

    @Test func usageAndPlanRefuseBadArguments() throws {
        expectOneLineError(try Self.run(["usage", "--db", "/nonexistent/ledger.db"]), containing: "no ledger")
        expectOneLineError(try Self.run(["usage", "--month", "November", "--db", "/nonexistent"]), containing: "--month")
        expectOneLineError(try Self.run(["plan", "--tokens", "-5", "--throughput", "10"]), containing: "must be positive")
        expectOneLineError(try Self.run(["batch", "in.jsonl"]), containing: "-o OUTPUT.jsonl")
        expectOneLineError(try Self.run(["serve", "--kv", "f8"]), containing: "--kv must be f32 or f16")
        expectOneLineError(try Self.run(["serve", "--batch-poll", "0"]), containing: "--batch-poll must be positive")
    }
}
