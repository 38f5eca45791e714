/// A model's `tokenizer.chat_template`, parsed once and rendered per request
/// the way Hugging Face's `apply_chat_template` renders it with jinja2
/// (trim_blocks, lstrip_blocks, `raise_exception`, `strftime_now`, HF's
/// `tojson`, loop controls and `{% generation %}`).
public struct ChatTemplate: Sendable {
    private let nodes: [JinjaNode]
    /// The template renders a `tools` variable (Qwen2.5's does; SmolLM2's does not).
    public let rendersTools: Bool

    public init(source: String) throws(TemplateError) {
        nodes = try JinjaParser.parse(try JinjaLexer.tokenize(source))
        rendersTools = source.contains("tools")
    }

    /// Renders the prompt. Variables match HF's render call: `messages`,
    /// `add_generation_prompt`, `bos_token`, `eos_token`, `tools` and
    /// `documents` (both None), then `extra` (which may override any of
    /// them; `.undefined` removes one).
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
                       extra: [String: TemplateValue] = [:]) throws(TemplateError) -> String
    {
        var variables: [String: JinjaValue] = [:]
        for builtin in JinjaBuiltin.allCases { variables[builtin.rawValue] = .function(builtin) }
        variables["messages"] = .list(messages.map {
            .dict(JinjaDict([("role", .string($0.role)), ("content", .string($0.content))] + $0.extra.map { ($0.0, JinjaValue($0.1)) }))
        })
        variables["add_generation_prompt"] = .bool(addGenerationPrompt)
        variables["bos_token"] = .string(bosToken)
        variables["eos_token"] = .string(eosToken)
        variables["tools"] = JinjaValue.none
        variables["documents"] = JinjaValue.none
        for (name, value) in extra {
            if case .undefined = value {
                variables[name] = nil
            } else {
                variables[name] = JinjaValue(value)
            }
        }
        return try JinjaRenderer(variables: variables).render(nodes)
    }
}
