import Engine
import Tokenizer

/// Every token's bytes as generated text (control tokens have none), computed
/// once per model: what the constraint walks each candidate token through.
final class TokenBytes: Sendable {
    let bytes: [[UInt8]]

    init(tokenizer: Tokenizer) {
        bytes = (0..<tokenizer.vocabularySize).map { id in
            tokenizer.isControl(Int32(id)) ? [] : tokenizer.tokenBytes(Int32(id))
        }
    }
}

/// `response_format: {"type": "json_object"}`: the choice's text is one JSON
/// object, then its end of turn. Before each sample every token whose bytes
/// cannot continue the object is masked out (a token is tried from the
/// current state, so tokens that split UTF-8 or JSON tokens work).
final class JSONObjectConstraint: TokenConstraint {
    private let vocabulary: TokenBytes
    private var grammar = JSONGrammar()

    init(vocabulary: TokenBytes) { self.vocabulary = vocabulary }

    func mask(_ logits: UnsafeMutableBufferPointer<Float>, endOfTurn: Set<Int32>) {
        let complete = grammar.isComplete
        for i in logits.indices where logits[i] > -.infinity {
            let allowed: Bool
            if endOfTurn.contains(Int32(i)) {
                allowed = complete
            } else if complete || i >= vocabulary.bytes.count || vocabulary.bytes[i].isEmpty {
                allowed = false
            } else {
                var trial = grammar
                allowed = trial.feed(vocabulary.bytes[i])
            }
            if !allowed { logits[i] = -.infinity }
        }
    }

    func accept(_ token: Int32) {
        guard Int(token) < vocabulary.bytes.count else { return }
        _ = grammar.feed(vocabulary.bytes[Int(token)])
    }
}
