import Foundation
import Engine
import OpenAI
import Tokenizer

/// The model the server answers for: its engine, tokenizer and chat template.
public final class ServedModel: Sendable {
    /// The name clients put in `model`.
    public let id: String
    public let engine: Engine
    public let tokenizer: Tokenizer
    public let template: ChatTemplate?
    public let created: Int

    public init(id: String, engine: Engine, tokenizer: Tokenizer, template: ChatTemplate?) {
        self.id = id
        self.engine = engine
        self.tokenizer = tokenizer
        self.template = template
        created = Int(Date().timeIntervalSince1970)
    }

    func object(price: Decimal?) -> ModelObject {
        ModelObject(id: id, created: created, ownedBy: "wafer", contextLength: engine.limits.context, priceUsdPerMtok: price)
    }

    /// Prompt ids for chat messages, rendered with the model's own template
    /// (which writes BOS itself where the model wants it).
    func chatPrompt(_ messages: [ChatCompletionRequest.Message]) throws(APIError) -> [Int32] {
        guard let template else {
            throw .invalidRequest("The model has no chat template; use /v1/completions.", param: "messages", code: "no_chat_template")
        }
        guard !messages.isEmpty else { throw .invalidRequest("messages must not be empty.", param: "messages", code: "invalid_value") }
        let rendered: String
        do {
            rendered = try template.render(messages: messages.map { ChatMessage(role: $0.role, content: $0.content) },
                                           addGenerationPrompt: true,
                                           bosToken: tokenizer.bosID.map(tokenizer.tokenText) ?? "",
                                           eosToken: tokenizer.eosID.map(tokenizer.tokenText) ?? "")
        } catch {
            throw .invalidRequest("The chat template rejected the messages: \(error)", param: "messages", code: "invalid_value")
        }
        return tokenizer.encode(rendered, addBOS: false, parseSpecial: true)
    }

    /// A token's text and bytes as logprobs report them.
    func describe(_ id: Int32) -> (text: String, bytes: [UInt8]) {
        let bytes = tokenizer.tokenBytes(id, special: true)
        return (String(decoding: bytes, as: UTF8.self), bytes)
    }
}
