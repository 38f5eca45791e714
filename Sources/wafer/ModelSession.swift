import Foundation
import GGUF
import Jinja
import Runtime
import Serving
import Tokenizer

/// A loaded model with its tokenizer and chat template: what the commands share.
struct ModelSession {
    let file: GGUFFile
    let model: Model
    let tokenizer: Tokenizer
    let template: ChatTemplate?

    init(path: String, precision: Precision, kvPrecision: KVPrecision? = nil) throws {
        file = try GGUFFile(path: path)
        model = try Model(file: file, precision: precision, kvPrecision: kvPrecision)
        tokenizer = try Tokenizer(gguf: file)
        template = try file.metadata["tokenizer.chat_template"]?.string.map { try ChatTemplate(source: $0) }
    }

    /// Prompt ids for plain text, or for one user message rendered with the model's template.
    func promptTokens(text: String, chat: Bool) throws -> [Int32] {
        guard chat else { return tokenizer.encode(text) }
        guard let template else { throw UsageError("the model has no chat template; use --prompt") }
        return try tokenizer.chatPrompt(template, [ChatMessage(role: "user", content: text)])
    }
}

/// The id clients put in `model`: `--model-id`, else the file name without `.gguf`.
func modelIdentifier(_ a: Arguments, path: String) -> String {
    a.string("model-id") ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
}

/// nil when not given: the model picks by its precision.
func parseKVPrecision(_ text: String?) throws(UsageError) -> KVPrecision? {
    guard let text else { return nil }
    guard let p = KVPrecision(rawValue: text) else { throw UsageError("--kv must be f32 or f16, got '\(text)'") }
    return p
}

func parsePrecision(_ text: String?) throws(UsageError) -> Precision {
    guard let text else { return .native }
    guard let p = Precision(rawValue: text) else { throw UsageError("--precision must be full or native, got '\(text)'") }
    return p
}
