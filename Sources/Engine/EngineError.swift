/// Why the engine refused a request. One line each.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case queueFull(waiting: Int)
    case promptTooLong(tokens: Int, context: Int)
    case emptyPrompt
    case exceedsKVBudget(tokens: Int, budget: Int)
    case invalidSampling(SamplingError)
    case invalidChoices(Int)
    case invalidMaxTokens(Int)
    case maxTokensBeyondContext(Int, context: Int)
    case tokenOutOfVocabulary(token: Int32, vocabularySize: Int)
    case shuttingDown

    public var description: String {
        switch self {
        case .queueFull(let waiting): "the queue is full (\(waiting) requests waiting); retry later"
        case .promptTooLong(let tokens, let context): "the prompt has \(tokens) tokens; the model's context is \(context)"
        case .emptyPrompt: "the prompt is empty"
        case .exceedsKVBudget(let tokens, let budget): "the request needs \(tokens) tokens of KV cache; the engine has \(budget)"
        case .invalidSampling(let error): error.description
        case .invalidChoices(let n): "n must be between 1 and 128, got \(n)"
        case .invalidMaxTokens(let n): "max_tokens must be at least 1, got \(n)"
        case .maxTokensBeyondContext(let n, let context): "max_tokens must be at most the context of \(context) tokens, got \(n)"
        case .tokenOutOfVocabulary(let token, let size): "token id \(token) is outside the vocabulary of \(size)"
        case .shuttingDown: "the server is shutting down"
        }
    }

    /// The request field at fault, named as on the wire; nil when not the request's fault.
    public var parameter: String? {
        switch self {
        case .promptTooLong, .emptyPrompt, .tokenOutOfVocabulary: "prompt"
        case .exceedsKVBudget, .invalidMaxTokens, .maxTokensBeyondContext: "max_tokens"
        case .invalidSampling(let error): error.field
        case .invalidChoices: "n"
        case .queueFull, .shuttingDown: nil
        }
    }
}
