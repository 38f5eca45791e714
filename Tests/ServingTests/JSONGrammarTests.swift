import Testing
@testable import Serving

/// The JSON-object recogniser behind `response_format: json_object`, fed byte by byte.
struct JSONGrammarTests {
    func run(_ text: String) -> (accepted: Bool, complete: Bool) {
        var g = JSONGrammar()
        let ok = g.feed(Array(text.utf8))
        return (ok, g.isComplete)
    }

    @Test(arguments: [
        #"{}"#, #"{"a":1}"#, #" { "a" : -0.5e+10 , "b" : [ true , false , null , "x" ] } "#.trimmingCharacters(in: .whitespaces),
        #"{"nested":{"deep":[{"x":[[]]}]},"s":"q\"\\\/\b\f\n\r\t\u00e9 é 😀"}"#, #"{"n":[0,1.25,-3,4E2,5e-1,10]}"#,
        "{\n  \"pretty\": {\n    \"ok\": 1\n  }\n}",
    ])
    func acceptsWholeObjects(text: String) {
        let r = run(text)
        #expect(r.accepted && r.complete, "\(text)")
    }

    @Test(arguments: [
        #"[1]"#, #""a""#, #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":-}"#, #"{"a":tru}"#, #"{"a":"\x"}"#,
        "{\"a\":\"line\nbreak\"}", #"{"a":1}}"#, #"{"a":1} x"#, #"{a:1}"#, #"{"a":[1,]}"#, #"{"a":"\u12G4"}"#, #"{"a":+1}"#,
    ])
    func rejectsWhatIsNotJSON(text: String) {
        #expect(!run(text).accepted, "\(text)")
    }

    @Test func prefixesAreAcceptedButNotComplete() {
        for prefix in [#"{"#, #"{"a"#, #"{"a":"#, #"{"a":12"#, #"{"a":[tr"#, #"{"a":"\u00"#, #"{"a":{"b":1}"#] {
            let r = run(prefix)
            #expect(r.accepted && !r.complete, "\(prefix)")
        }
    }

    @Test func nestingAndWhitespaceAreBounded() {
        #expect(!run("{\"a\":" + String(repeating: "[", count: JSONGrammar.maxDepth)).accepted)
        #expect(run("{\"a\":" + String(repeating: "[", count: JSONGrammar.maxDepth - 1)).accepted)
        #expect(!run("{" + String(repeating: " ", count: JSONGrammar.maxWhitespaceRun + 1)).accepted)
        #expect(run("{" + String(repeating: " ", count: JSONGrammar.maxWhitespaceRun) + "}").complete)
    }
}
