import Jinja
import Tokenizer

extension Tokenizer {
    /// Prompt ids for chat messages rendered with `template`, which writes BOS
    /// itself where the model wants it (so none is added, and special tokens
    /// in the rendered text are parsed). The one place a chat prompt is made:
    /// the server, batches and `wafer generate --chat` all come here.
    public func chatPrompt(_ template: ChatTemplate, _ messages: [ChatMessage], extra: [String: TemplateValue] = [:]) throws -> [Int32] {
        let rendered = try template.render(messages: messages, addGenerationPrompt: true,
                                           bosToken: bosID.map(tokenText) ?? "", eosToken: eosID.map(tokenText) ?? "", extra: extra)
        return encode(rendered, addBOS: false, parseSpecial: true)
    }
}
