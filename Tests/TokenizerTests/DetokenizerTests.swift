import Testing
import Tokenizer

@Suite struct DetokenizerTests {
    @Test func holdsBackSplitEmojiAcrossByteTokens() throws {
        let t = try tinySPM()
        let ids = t.encode("😀!", addBOS: false)  // ▁ <0xF0> <0x9F> <0x98> <0x80> then ! as a byte token
        var d = StreamingDetokenizer(tokenizer: t)
        let outputs = ids.map { d.append($0) }
        #expect(outputs == [" ", "", "", "", "😀", "!"])
        #expect(d.flush() == "")
    }

    @Test func holdsBackCJKSplitAcrossByteLevelTokens() throws {
        let t = try tinyBPE()
        let ids = t.encode("日本", addBOS: false)  // six byte-level tokens
        #expect(ids.count == 6)
        var d = StreamingDetokenizer(tokenizer: t)
        #expect(ids.map { d.append($0) } == ["", "", "日", "", "", "本"])
    }

    @Test func flushEmitsUnfinishedCharacterAsReplacement() throws {
        let t = try tinySPM()
        let f0 = try #require(t.tokenID("<0xF0>"))
        var d = StreamingDetokenizer(tokenizer: t)
        #expect(d.append(f0) == "")
        #expect(d.flush() == "\u{FFFD}")
    }

    @Test func malformedBytesAreNotHeldForever() throws {
        let t = try tinySPM()
        let ids = ["<0x80>", "<0x41>"].compactMap(t.tokenID)  // a stray continuation byte, then "A"
        var d = StreamingDetokenizer(tokenizer: t)
        #expect(d.append(ids[0]) == "\u{FFFD}")
        #expect(d.append(ids[1]) == "A")
    }

    @Test func streamingEqualsWholeDecode() throws {
        let t = try #require(smolLM2, "run scripts/fetch-model")
        let text = "Streaming 日本語テキスト, emoji 👨‍👩‍👧‍👦🦙 and Ünïcödé — done."
        var d = StreamingDetokenizer(tokenizer: t)
        var streamed = ""
        for id in t.encode(text) {
            let chunk = d.append(id)
            #expect(!chunk.contains("\u{FFFD}"))
            streamed += chunk
        }
        streamed += d.flush()
        #expect(streamed == text)
    }
}
