import GGUF

extension Vocabulary {
    /// Reads the `tokenizer.ggml.*` keys of a model file.
    public init(gguf: GGUFFile) throws(TokenizerError) {
        let m = gguf.metadata
        let name = try Self.string(m, "tokenizer.ggml.model")
        guard let model = TokenizerModel(rawValue: name) else { throw .unsupportedModel(name) }

        let tokens = try Self.array(m, "tokenizer.ggml.tokens", "an array of strings") { $0.string }
        let scores = try Self.optionalArray(m, "tokenizer.ggml.scores", "an array of numbers") { $0.double.map(Float.init) }
        let types = try Self.optionalArray(m, "tokenizer.ggml.token_type", "an array of integers") { v in
            v.int.flatMap { Int32(exactly: $0) }
        }
        let merges = model == .gpt2
            ? try Self.array(m, "tokenizer.ggml.merges", "an array of strings") { $0.string }
            : []
        var pre = ""
        if let value = m["tokenizer.ggml.pre"] {
            guard let s = value.string else { throw .wrongType(key: "tokenizer.ggml.pre", expected: "a string") }
            pre = s
        }

        func id(_ key: String) throws(TokenizerError) -> TokenID? {
            guard let value = m["tokenizer.ggml." + key] else { return nil }
            guard let i = value.int, let id = TokenID(exactly: i) else {
                throw .wrongType(key: "tokenizer.ggml." + key, expected: "a token id")
            }
            return id
        }
        func flag(_ key: String) throws(TokenizerError) -> Bool? {
            guard let value = m["tokenizer.ggml." + key] else { return nil }
            guard let b = value.bool else { throw .wrongType(key: "tokenizer.ggml." + key, expected: "a boolean") }
            return b
        }

        self.init(model: model, tokens: tokens, scores: scores, tokenTypes: types, merges: merges,
                  preTokenizer: pre,
                  bosID: try id("bos_token_id"), eosID: try id("eos_token_id"), eotID: try id("eot_token_id"),
                  eomID: try id("eom_token_id"), unknownID: try id("unknown_token_id"),
                  paddingID: try id("padding_token_id"),
                  addBOS: try flag("add_bos_token"), addEOS: try flag("add_eos_token"),
                  addSpacePrefix: try flag("add_space_prefix"))
    }

    private static func string(_ m: [String: GGUFValue], _ key: String) throws(TokenizerError) -> String {
        guard let value = m[key] else { throw .missingKey(key) }
        guard let s = value.string else { throw .wrongType(key: key, expected: "a string") }
        return s
    }

    private static func array<T>(_ m: [String: GGUFValue], _ key: String, _ expected: String,
                                 _ convert: (GGUFValue) -> T?) throws(TokenizerError) -> [T] {
        guard m[key] != nil else { throw .missingKey(key) }
        return try optionalArray(m, key, expected, convert)
    }

    private static func optionalArray<T>(_ m: [String: GGUFValue], _ key: String, _ expected: String,
                                         _ convert: (GGUFValue) -> T?) throws(TokenizerError) -> [T] {
        guard let value = m[key] else { return [] }
        guard let items = value.array else { throw .wrongType(key: key, expected: expected) }
        var result: [T] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let t = convert(item) else { throw .wrongType(key: key, expected: expected) }
            result.append(t)
        }
        return result
    }
}

extension Tokenizer {
    /// The tokenizer a model file declares.
    public convenience init(gguf: GGUFFile) throws(TokenizerError) {
        try self.init(vocabulary: Vocabulary(gguf: gguf))
    }
}
