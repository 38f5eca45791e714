import Testing
import Tokenizer

/// The default model's tokenizer: byte-level BPE, `smollm` pre-tokenizer.
@Suite struct SmolLM2Tests {
    @Test func vocabularyAndSpecialIDs() throws {
        let t = try #require(smolLM2, "run scripts/fetch-model")
        #expect(t.vocabularySize == 49152)
        #expect(t.model == .gpt2)
        #expect(!t.addsBOS)
        #expect(t.tokenText(1) == "<|im_start|>")
        #expect(t.eosID == 2)
        #expect(t.endOfTurnIDs.isSuperset(of: [0, 2]))  // <|endoftext|>, <|im_end|>
        #expect(!t.endOfTurnIDs.contains(1))
    }

    @Test(arguments: [
        "", " ", "Hello world", "  leading and trailing  ", "tabs\tand\nnewlines\r\n\n",
        "Ünïcödé, 日本語, русский, عربى, 한국어", "emoji 🦙👍🏽🇫🇷 and ZWJ 👨‍👩‍👧‍👦",
        "code: for (i = 0; i < 10; ++i) { x += a[i] * 2.5e-3; }", "numbers 1234567890 ½ ² ٣",
        "it's they're we've I'M", "\u{0085}\u{00A0}\u{3000}\u{200B}", "<|im_start|>user\nhi<|im_end|>\n",
    ])
    func roundTrip(_ text: String) throws {
        let t = try #require(smolLM2, "run scripts/fetch-model")
        #expect(t.decode(t.encode(text, parseSpecial: false)) == text)
        #expect(t.decode(t.encode(text), special: true) == text)
    }

    @Test func specialTokenParsing() throws {
        let t = try #require(smolLM2, "run scripts/fetch-model")
        let on = t.encode("<|im_start|>user\nHi<|im_end|>")
        #expect(on.first == 1)
        #expect(on.last == 2)
        let off = t.encode("<|im_start|>user\nHi<|im_end|>", parseSpecial: false)
        #expect(!off.contains(1) && !off.contains(2))
        #expect(off.count > on.count)
    }

    @Test func chatPromptIDs() throws {
        let t = try #require(smolLM2, "run scripts/fetch-model")
        // Digits are split one by one; the space before them is its own token.
        let ids = t.encode("Add 12 and 7.")
        #expect(ids.map(t.tokenText) == ["Add", "Ġ", "1", "2", "Ġand", "Ġ", "7", "."])
    }
}
