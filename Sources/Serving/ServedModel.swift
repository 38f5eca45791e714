import Foundation
import Engine
import Jinja
import OpenAI
import Tokenizer

/// The model the server answers for: its engine, tokenizer and chat template.
public final class ServedModel: Sendable {
    /// The name clients put in `model`.
    public let id: String
    /// Other names it answers to (`--model-alias`), for clients that send a fixed model name.
    public let aliases: [String]
    public let engine: Engine
    public let tokenizer: Tokenizer
    public let template: ChatTemplate?
    public let created: Int
    /// Every token's bytes, for structured output's masks.
    let tokenBytes: TokenBytes

    public init(id: String, aliases: [String] = [], engine: Engine, tokenizer: Tokenizer, template: ChatTemplate?) {
        self.id = id
        self.aliases = aliases
        self.engine = engine
        self.tokenizer = tokenizer
        self.template = template
        created = Int(Date().timeIntervalSince1970)
        tokenBytes = TokenBytes(tokenizer: tokenizer)
    }

    public func answers(to name: String) -> Bool { name == id || aliases.contains(name) }

    /// The object `/v1/models` lists.
    public func object(price: Decimal?) -> ModelObject {
        ModelObject(id: id, created: created, ownedBy: "wafer", contextLength: engine.limits.context, priceUsdPerMtok: price)
    }

    /// Prompt ids for chat messages, rendered with the model's own template
    /// (which writes BOS itself where the model wants it).
    func chatPrompt(_ messages: [ChatCompletionRequest.Message]) throws(APIError) -> [Int32] {
        guard let template else {
            throw .invalidRequest("The model has no chat template; use /v1/completions.", param: "messages", code: "no_chat_template")
        }
        guard !messages.isEmpty else { throw .invalidRequest("messages must not be empty.", param: "messages", code: "invalid_value") }
        do { return try tokenizer.chatPrompt(template, messages.map { ChatMessage(role: $0.role, content: $0.content) }) } catch {
            throw .invalidRequest("The chat template rejected the messages: \(error)", param: "messages", code: "invalid_value")
        }
    }

    /// A token's text and bytes as logprobs report them.
    func describe(_ id: Int32) -> (text: String, bytes: [UInt8]) {
        let bytes = tokenizer.tokenBytes(id, special: true)
        return (String(decoding: bytes, as: UTF8.self), bytes)
    }
}
