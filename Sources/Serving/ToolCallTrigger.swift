import Engine
import OpenAI

/// `tool_choice: auto` with a template whose calls open with `<tool_call>`
/// (Qwen2.5): text is free until the model writes that tag, then the call
/// that follows must be one the tools allow (`ToolUse.anyCallSchema`), then
/// text is free again. The grammar switches on as llama.cpp's lazy grammars
/// do, so an answer in prose costs no mask, and a call is always well formed.
final class ToolCallTrigger: TokenConstraint {
    static let tag = Array("<tool_call>".utf8)

    private let vocabulary: TokenBytes
    private let makeCall: () -> ByteGrammarConstraint<SchemaMatcher>
    /// The last bytes of free text (as many as the tag has), to see it arrive across tokens.
    private var recent: [UInt8] = []
    private var call: ByteGrammarConstraint<SchemaMatcher>?

    init(vocabulary: TokenBytes, call: @escaping () -> ByteGrammarConstraint<SchemaMatcher>) {
        self.vocabulary = vocabulary
        makeCall = call
    }

    func allows(_ token: Int32, endOfTurn: Set<Int32>) -> Bool { call?.allows(token, endOfTurn: endOfTurn) ?? true }

    func mask(_ logits: UnsafeMutableBufferPointer<Float>, endOfTurn: Set<Int32>) { call?.mask(logits, endOfTurn: endOfTurn) }

    func accept(_ token: Int32) {
        if let call {
            call.accept(token)
            if call.isComplete { self.call = nil }
            return
        }
        guard Int(token) >= 0, Int(token) < vocabulary.bytes.count else { return }
        recent = Array((recent + vocabulary.bytes[Int(token)]).suffix(Self.tag.count))
        if recent == Self.tag {
            recent = []
            call = makeCall()
        }
    }
}

extension ToolUse {
    /// The constraint for `auto` through a template that renders tools (nil otherwise: nothing to trigger on).
    func autoConstraint(_ vocabulary: TokenBytes, templateRendersTools: Bool) throws(APIError) -> (@Sendable () -> any TokenConstraint)? {
        guard choice == .auto, templateRendersTools else { return nil }
        let compiled: (schema: JSONSchema, masks: MaskCache<SchemaMatcher>)
        do { compiled = try vocabulary.grammar(for: anyCallSchema) } catch {
            throw .invalidRequest("tools: \(error).", param: "tools", code: "unsupported_schema")
        }
        return {
            ToolCallTrigger(vocabulary: vocabulary) {
                ByteGrammarConstraint(SchemaMatcher(schema: compiled.schema), vocabulary: vocabulary, masks: compiled.masks)
            }
        }
    }
}
