/// Why a template could not be parsed or rendered. Each message is one line.
public enum TemplateError: Error, Equatable, CustomStringConvertible {
    /// Malformed template text.
    case syntax(String, line: Int)
    /// Valid jinja2 this interpreter does not implement, e.g. "tag 'macro'".
    case unsupported(String, line: Int)
    case unknownFilter(String, line: Int)
    case unknownTest(String, line: Int)
    /// The template called `raise_exception(message)`, e.g. Mistral's
    /// "Conversation roles must alternate ...". The message is the template's own.
    case raised(String)
    /// Evaluation failed (undefined value used, type mismatch, ...).
    case runtime(String, line: Int)

    public var description: String {
        switch self {
        case let .syntax(message, line): return "template syntax error at line \(line): \(message)"
        case let .unsupported(what, line): return "unsupported \(what) at line \(line)"
        case let .unknownFilter(name, line): return "unknown filter '\(name)' at line \(line)"
        case let .unknownTest(name, line): return "unknown test '\(name)' at line \(line)"
        case let .raised(message): return message
        case let .runtime(message, line): return "template error at line \(line): \(message)"
        }
    }
}
