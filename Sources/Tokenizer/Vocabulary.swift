/// A token's id in the vocabulary, as the model's embedding table numbers it.
public typealias TokenID = Int32

/// The tokenizer families Wafer reads (`tokenizer.ggml.model`).
public enum TokenizerModel: String, Sendable {
    /// Byte-level BPE with ranked merges and a pre-tokenizer (GPT-2, Llama 3, Qwen2, SmolLM).
    case gpt2
    /// SentencePiece BPE: score-ranked merges over characters, `▁` for space,
    /// `<0xNN>` byte fallback (Llama 1/2, Mistral, TinyLlama).
    case llama
}

/// `tokenizer.ggml.token_type` values.
public enum TokenType: Int32, Sendable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// Everything a tokenizer is built from, as plain Swift values: what the GGUF
/// `tokenizer.ggml.*` keys hold. Optional fields left nil take llama.cpp's
/// defaults for the model type.
public struct Vocabulary: Sendable {
    public var model: TokenizerModel
    public var tokens: [String]
    /// One per token; empty means all zero. SentencePiece merges by these.
    public var scores: [Float]
    /// One per token (`TokenType` raw values); empty means all normal.
    public var tokenTypes: [Int32]
    /// "left right" pairs, highest priority first (BPE only).
    public var merges: [String]
    /// `tokenizer.ggml.pre`; empty when the file names none.
    public var preTokenizer: String
    public var bosID: TokenID?
    public var eosID: TokenID?
    public var eotID: TokenID?
    public var eomID: TokenID?
    public var unknownID: TokenID?
    public var paddingID: TokenID?
    public var addBOS: Bool?
    public var addEOS: Bool?
    public var addSpacePrefix: Bool?

    public init(model: TokenizerModel, tokens: [String], scores: [Float] = [], tokenTypes: [Int32] = [],
                merges: [String] = [], preTokenizer: String = "",
                bosID: TokenID? = nil, eosID: TokenID? = nil, eotID: TokenID? = nil, eomID: TokenID? = nil,
                unknownID: TokenID? = nil, paddingID: TokenID? = nil,
                addBOS: Bool? = nil, addEOS: Bool? = nil, addSpacePrefix: Bool? = nil) {
        self.model = model
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.preTokenizer = preTokenizer
        self.bosID = bosID
        self.eosID = eosID
        self.eotID = eotID
        self.eomID = eomID
        self.unknownID = unknownID
        self.paddingID = paddingID
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
    }
}

/// Token names llama.cpp treats as ending generation whatever their declared
/// type (it forces them to control tokens). Files rarely list them in
/// metadata, so this is the only way to learn that `<|im_end|>` ends a turn.
enum KnownTokens {
    static let endOfGeneration: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<｜end▁of▁sentence｜>", "[e~[",
    ]
    /// Fill-in-the-middle pad / repo / file-separator tokens, which llama.cpp
    /// also counts as end of generation.
    static let fillInMiddleEnds: Set<String> = [
        "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
        "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
        "<|file_sep|>",
    ]
    /// Other fill-in-the-middle markers: control tokens, not ends.
    static let fillInMiddleMarkers: Set<String> = [
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
        "<|code_prefix|>", "<|prefix|>",
        "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
        "<|code_suffix|>", "<|suffix|>",
        "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
        "<|code_middle|>", "<|middle|>",
    ]
}
