import Foundation
import Testing
import OpenAI
@testable import Serving

/// Tool calls read out of a choice's text: streamed piece by piece, the
/// deltas add up to exactly the final message's calls and content.
struct ToolCallReadingTests {
    static func tools(choice: String = #""auto""#) throws -> ToolUse {
        let body = #"""
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tool_choice": \#(choice), "tools": [
          {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
          {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]}
        """#
        return try #require(try ToolUse(JSONDecoder().decode(ChatCompletionRequest.self, from: Data(body.utf8))))
    }

    /// Streams `text` in pieces of `size` characters; returns what the deltas spell.
    func stream(_ text: String, _ tools: ToolUse, size: Int) -> (content: String, calls: [(id: String, name: String, arguments: String)], deltas: Int) {
        var tracker = ToolCallDeltas()
        var content = "", calls: [(id: String, name: String, arguments: String)] = [], count = 0
        func apply(_ r: (content: String?, calls: [ChatCompletionChunk.ToolCallDelta])) {
            content += r.content ?? ""
            for d in r.calls {
                count += 1
                if let id = d.id, let name = d.function.name {
                    #expect(d.index == calls.count, "a new call's index is the next one")
                    calls.append((id, name, d.function.arguments))
                } else {
                    #expect(d.id == nil && d.function.name == nil, "fragments carry neither id nor name")
                    calls[d.index].arguments += d.function.arguments
                }
            }
        }
        var i = text.startIndex
        while i < text.endIndex {
            let j = text.index(i, offsetBy: size, limitedBy: text.endIndex) ?? text.endIndex
            apply(tracker.advance(String(text[i..<j]), tools: tools) { "call_x_\($0)" })
            i = j
        }
        apply(tracker.finish(text, tools: tools) { "call_x_\($0)" })
        return (content, calls, count)
    }

    static let texts = [
        "Sure.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris \\\"Centre\\\" {1}\", \"days\": [1, 2]}}\n</tool_call>",
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"CET\"}}\n</tool_call>",
        "{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}",
        "{\"arguments\": {\"zone\": \"UTC\"}, \"name\": \"get_time\"}",
        "No call here, just < and <tool and text.",
        "<tool_call>{\"name\": \"unknown_tool\", \"arguments\": {}}</tool_call> then text",
        "{\"answer\": 42}",
        "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n{\"temperature_c\": 17}",
    ]

    @Test(arguments: texts, [1, 3, 7, 1000])
    func streamedDeltasSpellTheFinalMessage(text: String, size: Int) throws {
        let tools = try Self.tools()
        let (content, calls) = tools.parse(text, id: "x")
        let streamed = stream(text, tools, size: size)
        #expect(streamed.content == (content ?? ""), "content")
        #expect(streamed.calls.map(\.name) == calls.map(\.function.name))
        #expect(streamed.calls.map(\.arguments) == calls.map(\.function.arguments))
        #expect(streamed.calls.map(\.id) == calls.map(\.id))
        for call in calls { #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(call.function.arguments.utf8))) != nil) }
    }

    @Test func argumentsArriveInFragmentsAfterTheNameAndId() throws {
        let text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>"
        let streamed = stream(text, try Self.tools(), size: 2)
        #expect(streamed.calls.count == 1 && streamed.calls[0].arguments == #"{"city": "Paris", "unit": "celsius"}"#)
        #expect(streamed.deltas > 10, "arguments streamed as they were generated, not whole at the end")
        #expect(streamed.content.isEmpty)
    }

    @Test func readingAnswersWhatEachTextIs() throws {
        let tools = try Self.tools()
        let (content, calls) = tools.parse(Self.texts[0], id: "c")
        #expect(content == "Sure." && calls.count == 1 && calls[0].id == "call_c_0")
        #expect(tools.parse(Self.texts[1], id: "c").calls.map(\.function.name) == ["get_weather", "get_time"])
        #expect(tools.parse(Self.texts[3], id: "c").calls.first?.function.arguments == #"{"zone":"UTC"}"#, "another key order is re-encoded")
        #expect(tools.parse(Self.texts[5], id: "c").calls.isEmpty, "an unknown tool is text")
        let json = tools.parse(Self.texts[6], id: "c")
        #expect(json.calls.isEmpty && json.content == #"{"answer": 42}"#, "JSON that names no tool is content")
        let echo = tools.parse(Self.texts[7], id: "c")
        #expect(echo.calls.map(\.function.name) == ["get_weather"] && echo.content == #"{"temperature_c": 17}"#,
                "text after an opening call object is content")
        let cut = tools.parse("<tool_call>{\"name\": \"get_time\", \"arguments\": {\"zone\": \"U", id: "c")
        #expect(cut.calls.isEmpty && cut.content?.hasPrefix("<tool_call>") == true, "a call cut short stays text")
    }
}
