import Foundation

/// One generation request: a prompt and how to continue it.
public struct GenerationRequest: Sendable {
    public var prompt: [Int32]
    public var sampling: SamplingParameters
    /// Tokens to generate at most per choice; nil = until the context is full.
    public var maxTokens: Int?
    /// OpenAI `stop`: strings that end a choice; matched across token boundaries, never emitted.
    public var stop: [String]
    /// OpenAI `n`: choices generated from the one prompt (computed once).
    /// Choice i samples with seed + i when a seed is given.
    public var choices: Int
    /// Keep generating past end-of-turn tokens (benchmarks; llama.cpp's `ignore_eos`).
    public var ignoreEndOfTurn: Bool
    /// Batch work, scheduled after interactive requests.
    public var isBackground: Bool
    /// Structured output: makes each choice's constraint (nil: any text).
    public var constraint: (@Sendable () -> any TokenConstraint)?

    public init(prompt: [Int32], sampling: SamplingParameters = SamplingParameters(), maxTokens: Int? = nil,
                stop: [String] = [], choices: Int = 1, ignoreEndOfTurn: Bool = false, isBackground: Bool = false,
                constraint: (@Sendable () -> any TokenConstraint)? = nil) {
        self.prompt = prompt
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stop = stop
        self.choices = choices
        self.ignoreEndOfTurn = ignoreEndOfTurn
        self.isBackground = isBackground
        self.constraint = constraint
    }
}

public enum FinishReason: String, Sendable, Equatable {
    /// An end-of-turn token or a stop string.
    case stop
    /// `maxTokens` or the context.
    case length
    /// The caller went away (or the engine shut down) before the end.
    case cancelled
    /// The model failed; `GenerationResult.error` says how.
    case error
}

/// New output of one choice: text now safe to show (stop strings held back
/// until ruled out) and the tokens sampled since the previous piece.
public struct GeneratedPiece: Sendable {
    public var choice: Int
    public var text: String
    public var tokens: [SampledToken]
}

public struct ChoiceResult: Sendable {
    public var index: Int
    /// Everything the choice released, stop string excluded.
    public var text: String
    /// Every token sampled, the end-of-turn token included (it is billed).
    public var tokens: [SampledToken]
    public var finishReason: FinishReason
    /// The stop string that ended the choice, if one did.
    public var stopString: String?
}

/// Tokens to bill: the prompt once, every choice's sampled tokens.
public struct GenerationUsage: Sendable, Equatable {
    public var promptTokens: Int
    /// Prompt tokens whose KV came from the prefix cache (OpenAI's `cached_tokens`).
    public var cachedPromptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }
}

/// Seconds, as Cerebras reports them in `time_info`.
public struct GenerationTiming: Sendable {
    /// Submission time, Unix seconds.
    public var created: Double
    /// Waiting for a batch slot.
    public var queue: Double
    /// Admission to first token.
    public var prompt: Double
    /// First token to the end.
    public var completion: Double
    public var total: Double
    /// Submission to first token; nil if none came.
    public var timeToFirstToken: Double?
}

public struct GenerationResult: Sendable {
    public var choices: [ChoiceResult]
    public var usage: GenerationUsage
    public var timing: GenerationTiming
    /// Set when a choice finished with `.error`.
    public var error: String?
}

/// What the engine reports about a request, in order: pieces as they are
/// produced, then exactly one `finished`.
public enum GenerationEvent: Sendable {
    case piece(GeneratedPiece)
    case finished(GenerationResult)
}
