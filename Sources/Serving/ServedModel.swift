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
    /// (which writes BOS itself where the model wants it). With tools: the
    /// template renders them if it can; otherwise a generic system prompt
    /// describes them, and tool turns become plain text.
    func chatPrompt(_ messages: [ChatCompletionRequest.Message], tools: ToolUse? = nil) throws(APIError) -> [Int32] {
        guard let template else {
            throw .invalidRequest("The model '\(id)' has no chat template (it is a base model): use /v1/completions, "
                                  + "or start wafer serve with --chat-template FILE.", param: "messages", code: "no_chat_template")
        }
        guard !messages.isEmpty else { throw .invalidRequest("messages must not be empty.", param: "messages", code: "invalid_value") }
        var chat = messages.map { template.rendersTools ? Self.templateMessage($0) : Self.plainMessage($0) }
        var extra: [String: TemplateValue] = [:]
        if let tools {
            if template.rendersTools {
                extra["tools"] = tools.templateTools
            } else if chat.first?.role == "system" {
                chat[0].content += "\n\n" + tools.genericPrompt
            } else {
                chat.insert(ChatMessage(role: "system", content: tools.genericPrompt), at: 0)
            }
        }
        do { return try tokenizer.chatPrompt(template, chat, extra: extra) } catch {
            throw .invalidRequest("The chat template rejected the messages: \(error)", param: "messages", code: "invalid_value")
        }
    }

    /// A message with its tool calls and call id as Hugging Face templates read them (arguments as objects).
    static func templateMessage(_ m: ChatCompletionRequest.Message) -> ChatMessage {
        var extra: [(String, TemplateValue)] = []
        if let calls = m.toolCalls {
            extra.append(("tool_calls", .array(calls.map { call in
                let arguments = (call.function.arguments.data(using: .utf8)).flatMap { try? JSONDecoder().decode(JSONValue.self, from: $0) }
                return .object([("id", .string(call.id)), ("type", .string("function")),
                                ("function", .object([("name", .string(call.function.name)),
                                                      ("arguments", arguments.map(TemplateValue.init(json:)) ?? .string(call.function.arguments))]))])
            })))
        }
        if let id = m.toolCallID { extra.append(("tool_call_id", .string(id))) }
        if let name = m.name { extra.append(("name", .string(name))) }
        return ChatMessage(role: m.role, content: m.content, extra: extra)
    }

    /// For templates that know nothing of tools: calls as the JSON the generic prompt asks for, results as user turns.
    static func plainMessage(_ m: ChatCompletionRequest.Message) -> ChatMessage {
        if m.role == "tool" { return ChatMessage(role: "user", content: "Result of \(m.name ?? "the call"): \(m.content)") }
        guard let calls = m.toolCalls, !calls.isEmpty else { return ChatMessage(role: m.role, content: m.content) }
        let text = calls.map { #"{"name": "\#($0.function.name)", "arguments": \#($0.function.arguments)}"# }.joined(separator: "\n")
        return ChatMessage(role: m.role, content: m.content.isEmpty ? text : m.content + "\n" + text)
    }

    /// A token's text and bytes as logprobs report them.
    func describe(_ id: Int32) -> (text: String, bytes: [UInt8]) {
        let bytes = tokenizer.tokenBytes(id, special: true)
        return (String(decoding: bytes, as: UTF8.self), bytes)
    }
}
