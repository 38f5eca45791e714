import Foundation
import Testing
import OpenAI
@testable import Serving

/// JSON Schemas compiled and followed byte by byte.
struct SchemaMatcherTests {
    func schema(_ json: String) throws -> JSONSchema {
        try JSONSchema(JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)))
    }

    func run(_ schemaJSON: String, _ text: String) throws -> (accepted: Bool, complete: Bool) {
        var m = SchemaMatcher(schema: try schema(schemaJSON))
        let ok = m.feed(Array(text.utf8))
        return (ok, m.isComplete)
    }

    @Test(arguments: [
        (#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"]}"#, #"{"a":12}"#),
        (#"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"]}"#, #"{"a":-3,"b":"x"}"#),
        (#"{"enum":["red","green",3,null]}"#, #""green""#),
        (#"{"enum":["red","green",3,null]}"#, "null"),
        (#"{"type":["string","null"]}"#, "null"),
        (#"{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":2}"#, "[true, false]"),
        (#"{"anyOf":[{"type":"number"},{"const":"n/a"}]}"#, #""n/a""#),
        (##"{"type":"object","properties":{"p":{"$ref":"#/$defs/pt"}},"required":["p"],"$defs":{"pt":{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]}}}"##,
         #"{"p":{"x":1.5e3}}"#),
        (#"{"type":"object","properties":{"n":{"type":"string","nullable":true,"maxLength":3}},"required":["n"]}"#, #"{"n":"abc"}"#),
        (#"{"type":"object","properties":{"any":{}},"required":["any"]}"#, #"{"any":[1,{"k":null}]}"#),
        (#"{"type":"object","properties":{"any":{}},"required":["any"]}"#, #"{"any":42}"#),
    ] as [(String, String)])
    func acceptsValidDocuments(schema: String, text: String) throws {
        let r = try run(schema, text)
        #expect(r.accepted && r.complete, "\(text) against \(schema)")
    }

    @Test(arguments: [
        (#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"#, #"{}"#),
        (#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"#, #"{"a":1.5}"#),
        (#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"#, #"{"b":1}"#),
        (#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"#, #"{"a":1,"a":2}"#),
        (#"{"enum":["red","green"]}"#, #""blue""#),
        (#"{"type":"array","items":{"type":"boolean"},"maxItems":1}"#, "[true,true]"),
        (#"{"type":"array","items":{"type":"boolean"},"minItems":2}"#, "[true]"),
        (#"{"type":"string","maxLength":2}"#, #""abc""#),
        (#"{"type":"string","minLength":2}"#, #""a""#),
        (#"{"const":{"a":1}}"#, #"{"a":2}"#),
    ] as [(String, String)])
    func refusesWhatTheSchemaRules(schema: String, text: String) throws {
        let r = try run(schema, text)
        #expect(!(r.accepted && r.complete), "\(text) against \(schema)")
    }

    @Test func optionalPropertiesComeInOrderAndMaySkip() throws {
        let s = #"{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}},"required":["b"]}"#
        #expect(try run(s, #"{"b":1,"c":2}"#).complete)  // required first, then the optional ones by name
        #expect(try run(s, #"{"b":1,"a":2,"c":3}"#).complete)
        #expect(!(try run(s, #"{"a":2}"#).accepted))
    }

    @Test(arguments: ["pattern", "allOf", "format", "minimum", "patternProperties"])
    func unsupportedKeywordsAreNamed(keyword: String) {
        let json = #"{"type":"object","properties":{"x":{"type":"string","\#(keyword)":"y"}}}"#
        do {
            _ = try schema(json)
            Issue.record("\(keyword) accepted")
        } catch { #expect("\(error)".contains(keyword)) }
    }

    @Test func recursionIsBounded() throws {
        let s = ##"{"$ref":"#/$defs/n","$defs":{"n":{"type":"array","items":{"$ref":"#/$defs/n"}}}}"##
        let deep = String(repeating: "[", count: SchemaMatcher.maxDepth)
        #expect(try run(s, deep).accepted)
        #expect(!(try run(s, deep + "[[").accepted), "past the depth only an empty container may open")
    }
}
