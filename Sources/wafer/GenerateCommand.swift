import Foundation
import Engine

/// `wafer generate --prompt TEXT | --chat TEXT`: streams a completion to stdout,
/// through the engine as the server runs requests (sampling, stop strings, end of turn).
enum GenerateCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        let a = try Arguments(args, valued: ["model", "prompt", "chat", "max-tokens", "temperature", "top-p", "seed", "precision", "stop", "chat-template"])
        let text: String, chat: Bool
        switch (a.string("prompt"), a.string("chat")) {
        case (let p?, nil): (text, chat) = (p, false)
        case (nil, let c?): (text, chat) = (c, true)
        default: throw UsageError("give exactly one of --prompt TEXT or --chat TEXT")
        }
        let maxTokens = try a.int("max-tokens", default: 128)
        guard maxTokens >= 0 else { throw UsageError("--max-tokens must not be negative") }
        let sampling = SamplingParameters(temperature: Float(try a.double("temperature", default: 0)),
                                          topP: Float(try a.double("top-p", default: 1)),
                                          seed: UInt64(truncatingIfNeeded: try a.int("seed", default: 0)))

        let session = try ModelSession(path: modelPath(a.string("model")), precision: try parsePrecision(a.string("precision")),
                                       chatTemplate: try chatTemplateOption(a))
        let prompt = try session.promptTokens(text: text, chat: chat)
        guard maxTokens > 0 else {
            print()
            return 0
        }
        let engine = Engine(model: session.model, tokenizer: session.tokenizer)
        defer { engine.shutdown() }
        let request = GenerationRequest(prompt: prompt, sampling: sampling, maxTokens: maxTokens, stop: a.strings("stop"))
        do { try engine.validate(request) } catch { throw UsageError(error.description) }
        let out = FileHandle.standardOutput
        let done = DispatchSemaphore(value: 0)
        let failure = Locked<String?>(nil)
        try engine.submit(request) { event in
            switch event {
            case .piece(let piece): out.write(Data(piece.text.utf8))
            case .finished(let result):
                failure.set(result.error)
                done.signal()
            }
        }
        done.wait()
        out.write(Data("\n".utf8))
        if let error = failure.get() { throw GenerateError(description: "the model failed: \(error)") }
        return 0
    }

    struct GenerateError: Error, CustomStringConvertible { let description: String }
}
