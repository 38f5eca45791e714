import Testing
import Tokenizer

@Suite struct PreTokenizerTests {
    @Test func gpt2KeepsLastSpaceForNextWord() {
        #expect(PreTokenizer.gpt2.words("Hello world's  123 !!") == ["Hello", " world", "'s", " ", " 123", " !!"])
    }

    @Test func gpt2ContractionsAreCaseSensitive() {
        #expect(PreTokenizer.gpt2.words("I'M") == ["I", "'", "M"])
        #expect(PreTokenizer.llama3.words("I'M") == ["I", "'M"])
    }

    @Test func smollmIsolatesDigits() {
        #expect(PreTokenizer.smollm.words("abc 123") == ["abc", " ", "1", "2", "3"])
        #expect(PreTokenizer.smollm.words("x²") == ["x", "²"])
    }

    @Test func llama3GroupsDigitsByThreeAndNewlines() {
        #expect(PreTokenizer.llama3.words("Hello 12345 world\n\n  x")
                == ["Hello", " ", "123", "45", " world", "\n\n", " ", " x"])
    }

    @Test func qwen2SplitsSingleDigits() {
        #expect(PreTokenizer.qwen2.words("Hello 12345 world\n\n  x")
                == ["Hello", " ", "1", "2", "3", "4", "5", " world", "\n\n", " ", " x"])
    }

    @Test func llama3PunctuationTakesTrailingNewlines() {
        #expect(PreTokenizer.llama3.words("end.\n\nNext") == ["end", ".\n\n", "Next"])
        #expect(PreTokenizer.llama3.words("(hello) {x}") == ["(hello", ")", " {", "x", "}"])
    }

    @Test func defaultSplitsPunctuationNumbersAndTriples() {
        #expect(PreTokenizer.default.words("a+b 1234") == ["a", "+", "b", " ", "123", "4"])
    }

    @Test func nonASCIILettersAndNumbers() {
        #expect(PreTokenizer.gpt2.words("нещо на Български") == ["нещо", " на", " Български"])
        #expect(PreTokenizer.llama3.words("日本語テキスト٣٤٥٦") == ["日本語テキスト", "٣٤٥", "٦"])
        // U+3000 is whitespace; U+00A0 too
        #expect(PreTokenizer.gpt2.words("a\u{3000}b\u{00A0}\u{00A0}c") == ["a", "\u{3000}", "b", "\u{00A0}", "\u{00A0}", "c"])
    }

    @Test func namesMapToScanners() {
        #expect(PreTokenizer(name: "smollm") == .smollm)
        #expect(PreTokenizer(name: "llama-bpe") == .llama3)
        #expect(PreTokenizer(name: "qwen2") == .qwen2)
        #expect(PreTokenizer(name: "") == .default)
        #expect(PreTokenizer(name: "falcon") == nil)
    }
}
