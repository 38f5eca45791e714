/// A value handed to a chat template (messages, tools, extra variables).
/// Mirrors the JSON-like Python values Hugging Face passes to jinja2.
public indirect enum TemplateValue: Sendable, Equatable {
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TemplateValue])
    /// Keys keep insertion order: templates iterate dicts (`tool.items()`)
    /// and `tojson` prints them in that order.
    case object([(String, TemplateValue)])

    public static func == (lhs: TemplateValue, rhs: TemplateValue) -> Bool {
        switch (lhs, rhs) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .object(elements) }
}

/// One chat turn as the server receives it.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    /// More keys of the message as templates see it (`tool_calls`, `tool_call_id`, `name`).
    public var extra: [(String, TemplateValue)]

    public init(role: String, content: String, extra: [(String, TemplateValue)] = []) {
        self.role = role
        self.content = content
        self.extra = extra
    }

    public static func == (a: ChatMessage, b: ChatMessage) -> Bool {
        a.role == b.role && a.content == b.content && TemplateValue.object(a.extra) == TemplateValue.object(b.extra)
    }
}
