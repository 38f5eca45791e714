import Testing
import Tokenizer

@Suite struct SentencePieceTests {
    @Test func addsSpacePrefixAndMergesByScore() throws {
        let t = try tinySPM()
        #expect(t.addsBOS)
        let ids = t.encode("hello world")
        #expect(ids.first == t.bosID)
        #expect(ids.dropFirst().map(t.tokenText) == ["▁hello", "▁world"])
        #expect(t.decode(ids) == "hello world")
    }

    @Test func byteFallbackForUnknownCharacters() throws {
        let t = try tinySPM()
        let ids = t.encode("😀", addBOS: false)
        #expect(ids.map(t.tokenText) == ["▁", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"])
        #expect(t.decode(ids) == "😀")
    }

    @Test func knownMultibyteCharacterIsOneToken() throws {
        let t = try tinySPM()
        #expect(t.encode("日", addBOS: false).map(t.tokenText) == ["▁", "日"])
    }

    @Test func roundTrip() throws {
        let t = try tinySPM()
        for s in ["hello", " hello", "hello  world ", "Ünïcödé 日本 🦙\n\ttabs", ""] {
            #expect(t.decode(t.encode(s)) == s)
        }
    }
}
