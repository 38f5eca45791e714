import Testing
import Tokenizer

@Suite struct VocabularyTests {
    /// Swift's String == treats canonically equivalent text as equal; token
    /// lookup must not (Llama's vocabulary has both of these).
    @Test func canonicallyEquivalentTokensStayDistinct() throws {
        let oxia = "\u{1F77}", tonos = "\u{03AF}"
        #expect(oxia == tonos)  // the trap
        let bytes = (0..<256).map { String(format: "<0x%02X>", $0) }
        let t = try Tokenizer(vocabulary: Vocabulary(
            model: .llama, tokens: ["<unk>", "<s>", "</s>", "▁", oxia, tonos] + bytes,
            tokenTypes: [2, 3, 3, 1, 1, 1] + [Int32](repeating: 6, count: 256)))
        #expect(t.tokenID(oxia) == 4)
        #expect(t.tokenID(tonos) == 5)
        #expect(t.encode(tonos, addBOS: false) == [3, 5])
        #expect(t.encode(oxia, addBOS: false) == [3, 4])
    }

    @Test func rejectsBrokenVocabularies() {
        #expect(throws: TokenizerError.invalidVocabulary("no tokens")) {
            try Tokenizer(vocabulary: Vocabulary(model: .gpt2, tokens: []))
        }
        #expect(throws: TokenizerError.self) {
            try Tokenizer(vocabulary: Vocabulary(model: .llama, tokens: ["a", "b", "a"]))
        }
        #expect(throws: TokenizerError.self) {  // BOS asked for, none declared
            try Tokenizer(vocabulary: Vocabulary(model: .gpt2, tokens: ["a", "b"], merges: ["a b"],
                                                 preTokenizer: "gpt-2", addBOS: true))
        }
        #expect(throws: TokenizerError.invalidVocabulary("gpt2 tokenizer without merges")) {
            try Tokenizer(vocabulary: Vocabulary(model: .gpt2, tokens: ["a"], preTokenizer: "gpt-2"))
        }
    }

    @Test func errorsReadAsOneLine() {
        let errors: [TokenizerError] = [.missingKey("tokenizer.ggml.tokens"), .unsupportedModel("bert"),
                                        .unsupportedPreTokenizer("falcon"), .wrongType(key: "k", expected: "a string")]
        for e in errors { #expect(!e.description.isEmpty && !e.description.contains("\n")) }
    }

    @Test func decodeIgnoresIDsOutsideTheVocabulary() throws {
        let t = try tinyBPE()
        #expect(t.decode([-1, 100_000, t.encode("hello", addBOS: false)[0]]) == "hello")
        #expect(t.tokenText(-5) == "")
    }

    @Test func encodesFromManyThreadsAtOnce() async throws {
        let t = try tinyBPE()
        let expected = t.encode("hello world <|im_start|>", addBOS: false)
        let results = await withTaskGroup(of: [TokenID].self) { group in
            for _ in 0..<8 { group.addTask { t.encode("hello world <|im_start|>", addBOS: false) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0 == expected })
    }
}
