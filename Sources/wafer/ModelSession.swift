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

    /// `chatTemplate` replaces the file's own template (`--chat-template`).
    init(path: String, precision: Precision, kvPrecision: KVPrecision? = nil, chatTemplate: ChatTemplate? = nil) throws {
        file = try GGUFFile(path: path)
        model = try Model(file: file, precision: precision, kvPrecision: kvPrecision)
        tokenizer = try Tokenizer(gguf: file)
        template = try chatTemplate ?? file.metadata["tokenizer.chat_template"]?.string.map { try ChatTemplate(source: $0) }
    }

    /// Prompt ids for plain text, or for one user message rendered with the model's template.
    func promptTokens(text: String, chat: Bool) throws -> [Int32] {
        guard chat else { return tokenizer.encode(text) }
        guard let template else { throw UsageError("the model has no chat template (a base model?); use --prompt, or give one with --chat-template FILE") }
        return try tokenizer.chatPrompt(template, [ChatMessage(role: "user", content: text)])
    }
}

/// `--chat-template FILE`: a Jinja chat template to use instead of the model's
/// own (or for a base model that has none), checked before the model loads.
func chatTemplateOption(_ a: Arguments) throws(UsageError) -> ChatTemplate? {
    guard let path = a.string("chat-template") else { return nil }
    guard let data = FileManager.default.contents(atPath: path), let source = String(data: data, encoding: .utf8) else {
        throw UsageError("--chat-template: cannot read '\(path)' as UTF-8 text")
    }
    do { return try ChatTemplate(source: source) } catch {
        throw UsageError("--chat-template: '\(path)' is not a valid template: \(error)")
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
