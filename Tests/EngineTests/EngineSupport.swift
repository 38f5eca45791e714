import Foundation
import Engine
import GGUF
import Runtime
import Jinja
import Tokenizer

/// Model-level tests need a release build: a debug build runs the forward pass
/// hundreds of times slower.
#if DEBUG
let modelTestsEnabled = false
#else
let modelTestsEnabled = true
#endif

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The default model, loaded once for all engine tests.
enum DefaultModel {
    static let file = try! GGUFFile(path: packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path)
    static let native = try! Model(file: file, precision: .native)
    static let tokenizer = try! Tokenizer(gguf: file)
    static let template = try! ChatTemplate(source: file.metadata["tokenizer.chat_template"]!.string!)

    static func chat(_ text: String, system: String? = nil) -> [Int32] {
        var messages = [ChatMessage(role: "user", content: text)]
        if let system { messages.insert(ChatMessage(role: "system", content: system), at: 0) }
        let rendered = try! template.render(messages: messages, addGenerationPrompt: true, bosToken: "", eosToken: "")
        return tokenizer.encode(rendered, addBOS: false, parseSpecial: true)
    }

    static func engine(_ configure: (inout EngineConfiguration) -> Void = { _ in }) -> Engine {
        var configuration = EngineConfiguration()
        configure(&configuration)
        return Engine(model: native, tokenizer: tokenizer, configuration: configuration)
    }
}

/// A request's events gathered: the pieces' text per choice and the result.
struct Collected {
    var pieces: [Int: String] = [:]
    var pieceCount = 0
    var result: GenerationResult?

    var text: String { result?.choices[0].text ?? "" }
    var tokens: [Int32] { result?.choices[0].tokens.map(\.id) ?? [] }
}

extension Engine {
    /// Runs a request to the end through the async stream.
    func run(_ request: GenerationRequest) async throws -> Collected {
        let (_, events) = try stream(request)
        var collected = Collected()
        for await event in events {
            switch event {
            case .piece(let piece):
                collected.pieces[piece.choice, default: ""] += piece.text
                collected.pieceCount += 1
            case .finished(let result):
                collected.result = result
            }
        }
        return collected
    }
}
