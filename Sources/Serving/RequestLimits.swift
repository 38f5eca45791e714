import Engine
import OpenAI

/// What one request may ask for, beyond the engine's own bounds (`n` at most
/// 128, the context, the KV budget): the `wafer serve` flags, defaults as the README states.
public struct RequestLimits: Sendable {
    /// `n` at most (`--max-n`, 1 to 128).
    public var maxChoices = 128
    /// Stop strings at most (`--max-stop`).
    public var maxStopStrings = 16
    /// Prompt tokens at most, per prompt (`--max-prompt-tokens`; the context bounds them anyway).
    public var maxPromptTokens = Int.max
    /// Seconds an HTTP request may take from submission, queue included (`--request-timeout`);
    /// past it the request is cut short with a 504 and what it produced is billed. Batch lines have none.
    public var timeoutSeconds = 600.0

    public init() {}

    /// The 400 for a part past a limit, naming the field.
    func check(_ part: GenerationRequest, promptField: String) throws(APIError) {
        guard part.choices <= maxChoices else {
            throw .invalidRequest("n may be at most \(maxChoices) on this server, got \(part.choices).", param: "n", code: "invalid_value")
        }
        guard part.stop.count <= maxStopStrings else {
            throw .invalidRequest("stop may hold at most \(maxStopStrings) strings on this server.", param: "stop", code: "invalid_value")
        }
        guard part.prompt.count <= maxPromptTokens else {
            throw .invalidRequest("The prompt has \(part.prompt.count) tokens; this server takes at most \(maxPromptTokens).",
                                  param: promptField, code: "context_length_exceeded")
        }
    }
}
