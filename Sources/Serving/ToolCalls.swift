import Foundation
import Jinja
import OpenAI

/// A request's tools and how the model may use them: rendered into the
/// prompt (through the model's template when it renders `tools`, else a
/// generic system prompt), constrained for `required` and named choices, and
/// parsed back out of the text into `message.tool_calls`.
struct ToolUse: Sendable {
    let tools: [Tool]
    let choice: ToolChoice

    /// Nil when the request gives no tools or says `none`.
    init?(_ request: ChatCompletionRequest) throws(APIError) {
        guard let tools = request.tools, !tools.isEmpty else {
            if request.toolChoice != nil, request.toolChoice != ToolChoice.none {
                throw .invalidRequest("tool_choice needs tools.", param: "tool_choice", code: "invalid_value")
            }
            return nil
        }
        let choice = request.toolChoice ?? .auto
        guard choice != .none else { return nil }
        if case .function(let name) = choice, !tools.contains(where: { $0.function.name == name }) {
            throw .invalidRequest("tool_choice names '\(name)', which is not among the tools.", param: "tool_choice", code: "invalid_value")
        }
        self.tools = tools
        self.choice = choice
    }

    /// The tools a call may name under the choice.
    var callable: [Tool] {
        if case .function(let name) = choice { return tools.filter { $0.function.name == name } }
        return tools
    }

    /// `required` and named choices: the whole answer is one call, `{"name": ..., "arguments": {...}}`,
    /// its arguments following the tool's parameter schema.
    var callSchema: JSONValue? {
        guard choice != .auto else { return nil }
        let options: [JSONValue] = callable.map { tool in
            .object(["type": .string("object"), "required": .array([.string("name"), .string("arguments")]),
                     "properties": .object(["name": .object(["const": .string(tool.function.name)]),
                                            "arguments": tool.function.parameters ?? .object(["type": .string("object")])])])
        }
        return options.count == 1 ? options[0] : .object(["anyOf": .array(options)])
    }

    /// The `tools` variable as templates see it (HF's shape).
    var templateTools: TemplateValue { .array(tools.map { TemplateValue(json: (try? JSONValue(encoding: $0)) ?? .null) }) }

    /// For templates that do not render tools: what the model is told, as a system message.
    var genericPrompt: String {
        let list = tools.map { tool in
            "- \(tool.function.name): \(tool.function.description ?? "")\n  parameters: \(tool.function.parameters?.canonicalJSON ?? "{}")"
        }.joined(separator: "\n")
        return "You can call these functions:\n\(list)\nTo call one, answer with only a JSON object: "
            + #"{"name": "<function name>", "arguments": {<its arguments>}}"#
    }

    /// The calls in a choice's text, and the text left around them (nil when none is left).
    /// Reads Qwen's `<tool_call>{...}</tool_call>` tags, or an answer that is one call object.
    func parse(_ text: String, id: String) -> (content: String?, calls: [ToolCall]) {
        var calls: [ToolCall] = []
        var rest = ""
        var remaining = Substring(text)
        while let open = remaining.range(of: "<tool_call>") {
            rest += remaining[..<open.lowerBound]
            let after = remaining[open.upperBound...]
            let close = after.range(of: "</tool_call>")
            let body = close.map { after[..<$0.lowerBound] } ?? after
            if let call = call(String(body), id: "\(id)_\(calls.count)") { calls.append(call) } else { rest += remaining[open.lowerBound..<(close?.upperBound ?? after.endIndex)] }
            remaining = close.map { after[$0.upperBound...] } ?? ""
        }
        rest += remaining
        if calls.isEmpty, let whole = call(text, id: "\(id)_0") { return (nil, [whole]) }
        let trimmed = rest.trimmingCharacters(in: .whitespacesAndNewlines)
        return (trimmed.isEmpty ? nil : trimmed, calls)
    }

    /// One `{"name": ..., "arguments": ...}` object naming a callable tool.
    private func call(_ text: String, id: String) -> ToolCall? {
        guard let data = text.trimmingCharacters(in: .whitespacesAndNewlines).data(using: .utf8),
              let object = try? JSONDecoder().decode(JSONValue.self, from: data),
              case .string(let name)? = object["name"], callable.contains(where: { $0.function.name == name }) else { return nil }
        let arguments = object["arguments"] ?? object["parameters"] ?? .object([:])
        let text: String
        if case .string(let already) = arguments { text = already } else { text = arguments.canonicalJSON }
        return ToolCall(id: "call_" + id, function: .init(name: name, arguments: text))
    }
}

extension JSONValue {
    /// Any Encodable value as a JSON value.
    init<T: Encodable>(encoding value: T) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: WireJSON.encode(value))
    }
}

extension TemplateValue {
    /// A JSON value as a template value (what `tojson` prints back).
    init(json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .number(let n): self = n == n.rounded() && abs(n) < 1e15 ? .int(Int(n)) : .double(n)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(TemplateValue.init(json:)))
        case .object(let o): self = .object(o.keys.sorted().map { ($0, TemplateValue(json: o[$0]!)) })
        }
    }
}
