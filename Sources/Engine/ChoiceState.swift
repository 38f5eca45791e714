import Runtime
import Tokenizer

/// One choice of a request while it runs: its scheduled sequence, KV cache,
/// sampler, and the text pipeline (detokenizer → stop matcher). Touched only
/// by the engine thread, under the engine's lock.
final class ChoiceState {
    let index: Int
    let requestID: Int
    let sequence: ScheduledSequence
    var cache: KVCache?
    var sampler: Sampler
    /// Structured output's grammar for this choice, if any.
    let constraint: (any TokenConstraint)?
    var history: TokenHistory
    var detokenizer: StreamingDetokenizer
    var stopMatcher: StopMatcher
    var text = ""
    var tokens: [SampledToken] = []
    /// Sampled but not yet reported in a piece.
    private var unreported: [SampledToken] = []
    var finishReason: FinishReason?
    var stopString: String?
    /// Prompt positions copied from the prefix cache at admission.
    var cachedTokens = 0
    var lastTokenTime: UInt64?

    init(index: Int, requestID: Int, sequence: ScheduledSequence, sampler: Sampler, tokenizer: Tokenizer, stop: [String],
         constraint: (any TokenConstraint)? = nil) {
        self.constraint = constraint
        self.index = index
        self.requestID = requestID
        self.sequence = sequence
        self.sampler = sampler
        history = TokenHistory(prompt: sequence.prompt)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        stopMatcher = StopMatcher(stops: stop)
    }

    /// Takes a sampled token through the text pipeline; decides whether the
    /// choice ends (end of turn, stop string, length) and returns what to report.
    func accept(_ token: SampledToken, isEndOfTurn: Bool) -> GeneratedPiece? {
        tokens.append(token)
        unreported.append(token)
        constraint?.accept(token.id)
        history.append(token.id)
        sequence.append(token.id)
        var released = ""
        if isEndOfTurn {
            finishReason = .stop
        } else {
            let output = stopMatcher.feed(detokenizer.append(token.id))
            released = output.text
            if let stop = output.stop {
                finishReason = .stop
                stopString = stop
            } else if sequence.known >= sequence.reservation {
                finishReason = .length
            }
        }
        if finishReason != nil, stopString == nil { released += drain() }
        return report(released)
    }

    /// Ends the choice early (cancelled, or the model failed): held text is released.
    func end(_ reason: FinishReason) -> GeneratedPiece? {
        finishReason = reason
        return report(drain())
    }

    /// Text held by the detokenizer and the stop matcher, now that no more comes.
    private func drain() -> String {
        let output = stopMatcher.feed(detokenizer.flush())
        if let stop = output.stop {
            stopString = stop
            return output.text
        }
        return output.text + stopMatcher.finish()
    }

    private func report(_ released: String) -> GeneratedPiece? {
        text += released
        guard !released.isEmpty || (finishReason != nil && !unreported.isEmpty) else { return nil }
        defer { unreported.removeAll() }
        return GeneratedPiece(choice: index, text: released, tokens: unreported)
    }

    var result: ChoiceResult {
        ChoiceResult(index: index, text: text, tokens: tokens, finishReason: finishReason ?? .cancelled, stopString: stopString)
    }
}
