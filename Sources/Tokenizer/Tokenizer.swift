/// Text <-> token ids for one model, built from the model file's own
/// vocabulary. Ids match llama.cpp's on the same file. Immutable and safe to
/// share between threads; `encode` allocates its own scratch space.
public final class Tokenizer: Sendable {
    public let model: TokenizerModel
    public let vocabularySize: Int
    public let bosID: TokenID?
    public let eosID: TokenID?
    public let unknownID: TokenID?
    public let paddingID: TokenID?
    /// Tokens that end generation: EOS, EOT and the tokens llama.cpp
    /// recognises by name (`<|im_end|>`, `<|eot_id|>`, `<|endoftext|>`, the
    /// fill-in-the-middle pad/repo/file-separator tokens, ...).
    public let endOfTurnIDs: Set<TokenID>
    /// Whether `encode` adds BOS by default (`tokenizer.ggml.add_bos_token`).
    public let addsBOS: Bool
    public let addsEOS: Bool

    let tokens: [String]
    let tokenIDs: TokenLookup
    let attributes: [TokenAttributes]
    /// SentencePiece: the leading space `encode` adds is not part of the text.
    let addsSpacePrefix: Bool
    let pieces: Pieces
    private let specials: SpecialTokens
    private let engine: Engine

    private enum Engine: Sendable {
        case bytePair(BytePairEncoder)
        case sentencePiece(SentencePieceEncoder)
    }

    public init(vocabulary v: Vocabulary) throws(TokenizerError) {
        let n = v.tokens.count
        guard n > 0 else { throw .invalidVocabulary("no tokens") }
        guard v.scores.isEmpty || v.scores.count >= n else {
            throw .invalidVocabulary("\(v.scores.count) scores for \(n) tokens")
        }
        guard v.tokenTypes.isEmpty || v.tokenTypes.count >= n else {
            throw .invalidVocabulary("\(v.tokenTypes.count) token types for \(n) tokens")
        }

        // llama.cpp renames empty tokens rather than rejecting the file.
        let tokens = v.tokens.enumerated().map { $1.isEmpty ? "[EMPTY_\($0)]" : $1 }
        let ids = TokenLookup(tokens: tokens)
        if let (first, second) = ids.firstDuplicate {
            throw .invalidVocabulary("token '\(tokens[Int(first)])' appears twice (ids \(first) and \(second))")
        }

        var attributes = (0..<n).map { i in
            TokenAttributes(type: v.tokenTypes.isEmpty ? TokenType.normal.rawValue : v.tokenTypes[i])
        }
        let forcedControl = KnownTokens.endOfGeneration.union(KnownTokens.fillInMiddleEnds)
            .union(KnownTokens.fillInMiddleMarkers)
        for name in forcedControl { if let id = ids.id(name) { attributes[Int(id)].insert(.control) } }

        func valid(_ id: TokenID?) -> TokenID? { id.flatMap { $0 >= 0 && Int($0) < n ? $0 : nil } }
        let isSPM = v.model == .llama
        // llama.cpp's defaults for SentencePiece files that omit the ids.
        bosID = valid(v.bosID ?? (isSPM ? 1 : nil))
        eosID = valid(v.eosID ?? (isSPM ? 2 : nil))
        unknownID = valid(v.unknownID ?? (isSPM ? 0 : nil))
        paddingID = valid(v.paddingID)
        let eotID = valid(v.eotID), eomID = valid(v.eomID)

        var ends = Set(KnownTokens.endOfGeneration.union(KnownTokens.fillInMiddleEnds).compactMap { ids.id($0) })
        for id in [eosID, eotID, eomID].compactMap({ $0 }) { ends.insert(id) }
        endOfTurnIDs = ends

        switch v.model {
        case .gpt2:
            guard let pre = PreTokenizer(name: v.preTokenizer) else {
                throw .unsupportedPreTokenizer(v.preTokenizer)
            }
            guard !v.merges.isEmpty else { throw .invalidVocabulary("gpt2 tokenizer without merges") }
            engine = .bytePair(BytePairEncoder(tokens: tokens, tokenIDs: ids, merges: v.merges, preTokenizer: pre,
                                               ignoresMerges: PreTokenizer.ignoresMerges(name: v.preTokenizer)))
            addsBOS = v.addBOS ?? PreTokenizer.addsBOSByDefault(name: v.preTokenizer)
            addsSpacePrefix = false
        case .llama:
            engine = .sentencePiece(SentencePieceEncoder(tokens: tokens, tokenIDs: ids, scores: v.scores,
                                                         unknownID: unknownID))
            addsBOS = v.addBOS ?? true
            addsSpacePrefix = v.addSpacePrefix ?? true
        }
        addsEOS = v.addEOS ?? false
        if addsBOS && bosID == nil { throw .invalidVocabulary("add_bos_token is set but there is no BOS token") }
        if addsEOS && eosID == nil { throw .invalidVocabulary("add_eos_token is set but there is no EOS token") }

        specials = SpecialTokens(attributes.indices.compactMap { i in
            let a = attributes[i]
            guard !a.isDisjoint(with: [.control, .userDefined, .unknown]) else { return nil }
            return SpecialTokens.Entry(bytes: Array(tokens[i].utf8), id: TokenID(i),
                                       alwaysParsed: a.isDisjoint(with: [.control, .unknown]))
        })
        pieces = Pieces(tokens: tokens, attributes: attributes, model: v.model)
        model = v.model
        vocabularySize = n
        self.tokens = tokens
        self.tokenIDs = ids
        self.attributes = attributes
    }

    /// Text to ids.
    /// - addBOS: add BOS (and EOS, if the model adds one) — nil means the
    ///   model's own setting.
    /// - parseSpecial: turn control tokens written in the text (`<|im_start|>`)
    ///   into their ids; false spells them with ordinary tokens (use it for
    ///   untrusted user text).
    public func encode(_ text: String, addBOS: Bool? = nil, parseSpecial: Bool = true) -> [TokenID] {
        let addSpecial = addBOS ?? addsBOS
        var out: [TokenID] = []
        out.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecial, let bos = bosID { out.append(bos) }
        var text = text
        text.withUTF8 { bytes in
            let fragments = specials.partition(bytes, parseSpecial: parseSpecial)
            switch engine {
            case .bytePair(let bpe):
                var scratch = BytePairEncoder.Scratch()
                for fragment in fragments {
                    switch fragment {
                    case .token(let id): out.append(id)
                    case .text(let range): bpe.encode(UnsafeBufferPointer(rebasing: bytes[range]), into: &out, scratch: &scratch)
                    }
                }
            case .sentencePiece(let spm):
                var afterSpecial = true  // llama.cpp adds the space prefix after every special token
                for fragment in fragments {
                    switch fragment {
                    case .token(let id):
                        out.append(id)
                        afterSpecial = true
                    case .text(let range):
                        spm.encode(UnsafeBufferPointer(rebasing: bytes[range]),
                                   prefixSpace: addsSpacePrefix && afterSpecial, into: &out)
                        afterSpecial = false
                    }
                }
            }
        }
        if addSpecial && addsEOS, let eos = eosID { out.append(eos) }
        return out
    }

    /// The token's text exactly as the vocabulary stores it (byte-level or
    /// `▁` spelling, `<0x0A>` for byte tokens); "" for an unknown id.
    public func tokenText(_ id: TokenID) -> String {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : ""
    }

    /// The id of a token given its exact vocabulary text.
    public func tokenID(_ text: String) -> TokenID? { tokenIDs.id(text) }

    /// Control tokens (`<|im_start|>`, BOS, EOS) are not text; `decode` leaves
    /// them out unless asked.
    public func isControl(_ id: TokenID) -> Bool {
        id >= 0 && Int(id) < attributes.count && !attributes[Int(id)].isDisjoint(with: [.control, .unknown])
    }
}

/// What the vocabulary says a token is (`tokenizer.ggml.token_type`, plus
/// llama.cpp's by-name corrections).
struct TokenAttributes: OptionSet, Sendable {
    let rawValue: UInt8
    static let normal = TokenAttributes(rawValue: 1 << 0)
    static let unknown = TokenAttributes(rawValue: 1 << 1)
    static let control = TokenAttributes(rawValue: 1 << 2)
    static let userDefined = TokenAttributes(rawValue: 1 << 3)
    static let unused = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(type: Int32) {
        switch TokenType(rawValue: type) {
        case .normal: self = .normal
        case .unknown: self = .unknown
        case .control: self = .control
        case .userDefined: self = .userDefined
        case .unused: self = .unused
        case .byte: self = .byte
        case .undefined, nil: self = []
        }
    }
}
