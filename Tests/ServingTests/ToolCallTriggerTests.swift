import Testing
@testable import Serving

/// `tool_choice: auto` through a tags template: free text until `<tool_call>`,
/// then only a call the tools allow, then free text again.
struct ToolCallTriggerTests {
    /// Every byte as a token, plus "<tool_call>" and "</tool_call>" as tokens of their own (as in Qwen's vocabulary).
    static let vocabulary = TokenBytes(bytes: (0..<256).map { [UInt8($0)] } + [Array("<tool_call>".utf8), Array("</tool_call>".utf8)])
    static let open: Int32 = 256, close: Int32 = 257

    func trigger() throws -> ToolCallTrigger {
        let tools = try ToolCallReadingTests.tools()
        let make = try #require(try tools.autoConstraint(Self.vocabulary, templateRendersTools: true))
        return try #require(make() as? ToolCallTrigger)
    }

    func feed(_ c: ToolCallTrigger, _ text: String) {
        for b in text.utf8 {
            #expect(c.allows(Int32(b), endOfTurn: []), "byte \(Character(Unicode.Scalar(b))) refused in \(text)")
            c.accept(Int32(b))
        }
    }

    func allowed(_ c: ToolCallTrigger, _ text: String) -> Bool { text.utf8.allSatisfy { c.allows(Int32($0), endOfTurn: []) } }

    @Test func freeUntilTheTagThenACallThenFreeAgain() throws {
        let c = try trigger()
        #expect(allowed(c, "x!~") && c.allows(Self.close, endOfTurn: []), "prose is free")
        feed(c, "Let me check. ")
        c.accept(Self.open)
        #expect(!allowed(c, "x") && !c.allows(Self.close, endOfTurn: []) && !c.allows(1, endOfTurn: [1]), "inside a call: only JSON")
        feed(c, "\n" + #"{"name": "get_time", "arguments": {"zone": "CET"}}"#)
        #expect(allowed(c, "x") && c.allows(Self.close, endOfTurn: []), "after the call: free again")
        c.accept(Self.close)
        feed(c, " and then <tool_call>")
        #expect(!allowed(c, "x"), "a tag spelled out byte by byte triggers too")
    }

    @Test func onlyCallableNamesAreWritten() throws {
        let c = try trigger()
        c.accept(Self.open)
        feed(c, #"{"name": "get_"#)
        #expect(allowed(c, "w") && allowed(c, "t") && !allowed(c, "x"), "the name is one of the tools'")
    }

    @Test func withoutATagTemplateOrUnderOtherChoicesThereIsNone() throws {
        #expect(try ToolCallReadingTests.tools().autoConstraint(Self.vocabulary, templateRendersTools: false) == nil)
        #expect(try ToolCallReadingTests.tools(choice: #""required""#).autoConstraint(Self.vocabulary, templateRendersTools: true) == nil)
    }
}
