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

    /// `required` and named choices: the whole answer is one call (`anyCallSchema`).
    var callSchema: JSONValue? { choice == .auto ? nil : anyCallSchema }

    /// One call, `{"name": ..., "arguments": {...}}`, naming a callable tool, its arguments following the tool's parameter schema.
    var anyCallSchema: JSONValue {
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

    /// The calls in a choice's whole text, and the text left around them (nil when none is left).
    func parse(_ text: String, id: String) -> (content: String?, calls: [ToolCall]) {
        let reading = read(text, final: true)
        let calls = reading.calls.enumerated().map { k, call in
            ToolCall(id: Self.callID(id, k), function: .init(name: call.name, arguments: call.arguments))
        }
        return (reading.content.isEmpty ? nil : reading.content, calls)
    }

    /// Call `k` of the choice `id`: the same in a response and in its stream.
    static func callID(_ id: String, _ k: Int) -> String { "call_\(id)_\(k)" }
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
