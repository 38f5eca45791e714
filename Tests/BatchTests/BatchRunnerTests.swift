import Foundation
import Testing
@testable import Batch
import Serving

/// The runner's file handling without a model: the API answers 503 (loading) to anything that reaches it.
struct BatchRunnerTests {
    static func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wafer-batch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static let line = #"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[]}}"#

    @Test func aClosedWindowExpiresTheBatchBeforeAnyLine() throws {
        let dir = try Self.directory()
        let input = dir.appendingPathComponent("in.jsonl")
        try Data((Self.line + "\n").utf8).write(to: input)
        let runner = try BatchRunner(service: Service(meter: nil), input: input.path,
                                     output: dir.appendingPathComponent("out.jsonl").path, errors: dir.appendingPathComponent("err.jsonl").path,
                                     workers: 2, deadline: Date(timeIntervalSinceNow: -1))
        let summary = runner.run()
        #expect(summary.expired && summary.done == 0 && summary.total == 1)
    }

    @Test func notReadyServerInterruptsWithoutWritingTheLine() throws {
        let dir = try Self.directory()
        let input = dir.appendingPathComponent("in.jsonl"), output = dir.appendingPathComponent("out.jsonl")
        try Data((Self.line + "\n{broken\n").utf8).write(to: input)
        let runner = try BatchRunner(service: Service(meter: nil), input: input.path,
                                     output: output.path, errors: dir.appendingPathComponent("err.jsonl").path, workers: 1)
        let summary = runner.run()
        #expect(summary.interrupted)
        #expect(try String(contentsOf: output, encoding: .utf8).isEmpty, "a 503 is not the line's answer")
    }

    @Test func partialLastLineIsCutBeforeResuming() throws {
        let dir = try Self.directory()
        let output = dir.appendingPathComponent("out.jsonl")
        try Data((#"{"custom_id":"x","response":{}}"# + "\n" + #"{"custom_id":"y","resp"#).utf8).write(to: output)
        let log = try AppendLog(path: output.path)
        #expect(try log.written().customIDs == ["x"])
        log.append(#"{"custom_id":"z"}"#)
        #expect(try String(contentsOf: output, encoding: .utf8) == #"{"custom_id":"x","response":{}}"# + "\n" + #"{"custom_id":"z"}"# + "\n")
    }

    @Test func multipartFormsParse() throws {
        let body = Data("--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n{\"a\":1}\n{\"b\":2}\n\r\n--XyZ--\r\n".utf8)
        let form = try #require(Multipart(body: body, contentType: "multipart/form-data; boundary=XyZ"))
        #expect(form.part("purpose").map { String(decoding: $0.content, as: UTF8.self) } == "batch")
        #expect(form.part("file")?.filename == "in.jsonl")
        #expect(form.part("file").map { String(decoding: $0.content, as: UTF8.self) } == "{\"a\":1}\n{\"b\":2}\n")
        #expect(Multipart(body: body, contentType: "application/json") == nil)
        #expect(Multipart(body: Data("garbage".utf8), contentType: "multipart/form-data; boundary=XyZ") == nil)
    }
}
