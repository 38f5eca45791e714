import Testing
import Tokenizer

@Suite struct BPETests {
    @Test func mergesByRank() throws {
        let t = try tinyBPE()
        let ids = t.encode("hello world", addBOS: false)
        #expect(ids.map(t.tokenText) == ["hello", "Ġworld"])
    }

    @Test func unmergedBytesStayBytes() throws {
        let t = try tinyBPE()
        // "é" is two UTF-8 bytes, each its own byte-level token.
        #expect(t.encode("é", addBOS: false).map(t.tokenText) == ["Ã", "©"])
        #expect(t.decode(t.encode("é", addBOS: false)) == "é")
    }

    @Test func specialTokensParsedOnlyWhenAsked() throws {
        let t = try tinyBPE()
        let start = try #require(t.tokenID("<|im_start|>"))
        let on = t.encode("<|im_start|>hello", addBOS: false, parseSpecial: true)
        #expect(on.first == start)
        #expect(on.count == 2)
        let off = t.encode("<|im_start|>hello", addBOS: false, parseSpecial: false)
        #expect(!off.contains(start))
        #expect(t.decode(off) == "<|im_start|>hello")
    }

    @Test func userDefinedTokensAlwaysParsed() throws {
        let t = try tinyBPE()
        let tool = try #require(t.tokenID("<tool>"))
        #expect(t.encode("a<tool>b", addBOS: false, parseSpecial: false).contains(tool))
        // and they print even without `special`
        #expect(t.decode([tool]) == "<tool>")
    }

    @Test func controlTokensHiddenUnlessSpecial() throws {
        let t = try tinyBPE()
        let ids = t.encode("<|im_start|>hello<|im_end|>", addBOS: false)
        #expect(t.decode(ids) == "hello")
        #expect(t.decode(ids, special: true) == "<|im_start|>hello<|im_end|>")
    }

    @Test func bosFollowsFlagAndOverride() throws {
        let t = try tinyBPE()
        #expect(!t.addsBOS)
        #expect(t.encode("hello").first != t.bosID)
        #expect(t.encode("hello", addBOS: true).first == t.bosID)
    }

    @Test func endOfTurnKnowsImEnd() throws {
        let t = try tinyBPE()
        #expect(t.endOfTurnIDs.contains(try #require(t.tokenID("<|im_end|>"))))
    }

    @Test func rejectsUnknownPreTokenizerAndModel() {
        #expect(throws: TokenizerError.unsupportedPreTokenizer("falcon")) { try tinyBPE(pre: "falcon") }
        #expect(TokenizerError.unsupportedModel("bert").description.contains("bert"))
    }
}
