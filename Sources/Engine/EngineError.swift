/// Why the engine refused or failed a request. One line each.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case queueFull(waiting: Int)
    case promptTooLong(tokens: Int, context: Int)
    case emptyPrompt
    case exceedsKVBudget(tokens: Int, budget: Int)

    public var description: String {
        switch self {
        case .queueFull(let waiting): "the queue is full (\(waiting) requests waiting); retry later"
        case .promptTooLong(let tokens, let context): "the prompt has \(tokens) tokens; the model's context is \(context)"
        case .emptyPrompt: "the prompt is empty"
        case .exceedsKVBudget(let tokens, let budget): "the request needs \(tokens) tokens of KV cache; the engine has \(budget)"
        }
    }
}
