import Foundation
import Testing
import Engine
import OpenAI
import Serving

/// Request decoding and the errors it gives, as the routes see them.
struct WireTypeTests {
    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws(APIError) -> T {
        try JSONDecoder.request(type, from: Data(json.utf8))
    }

    @Test func chatFieldsDecode() throws {
        let r = try decode(ChatCompletionRequest.self, """
            {"model":"m","messages":[{"role":"system","content":null},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
             "max_completion_tokens":7,"max_tokens":3,"stop":"END","seed":-1,"logit_bias":{"5":-100},"top_k":4,"stream_options":{"include_usage":true},
             "some_future_field":[1,2]}
            """)
        #expect(r.messages.map(\.content) == ["", "ab"])
        #expect(r.fields.maxTokens == 7, "max_completion_tokens wins over the deprecated max_tokens")
        #expect(r.fields.stop?.values == ["END"])
        #expect(r.fields.streamOptions?.includeUsage == true)
        let p = try r.fields.generationRequest(prompt: [1], topLogprobs: nil).sampling
        #expect(p.seed == UInt64.max && p.logitBias == [5: -100] && p.topK == 4)
    }

    @Test func promptShapes() throws {
        func prompt(_ json: String) throws -> CompletionRequest.Prompt {
            try decode(CompletionRequest.self, #"{"model":"m","prompt":\#(json)}"#).prompt
        }
        guard case .texts(["a"]) = try prompt(#""a""#), case .texts(["a", "b"]) = try prompt(#"["a","b"]"#),
              case .tokens([[1, 2]]) = try prompt("[1,2]"), case .tokens([[1], [2, 3]]) = try prompt("[[1],[2,3]]") else {
            Issue.record("a prompt shape decoded wrongly")
            return
        }
        #expect(throws: APIError.self) { try prompt("{}") }
    }

    @Test(arguments: [
        (#"{"messages":[]}"#, "model", "missing_required_parameter"),
        (#"{"model":"m","messages":[],"temperature":"hot"}"#, "temperature", "invalid_type"),
        (#"{"model":"m","messages":[{"role":"user","content":5}]}"#, "messages[0].content", "invalid_type"),
        (#"{"model":"m","messages":[],"n":1.5}"#, nil, "invalid_type"),
        (#"[1]"#, nil, "invalid_json"),
        (#"{"model":"m","#, nil, "invalid_json"),
    ] as [(String, String?, String?)])
    func decodingErrorsNameTheField(json: String, param: String?, code: String?) {
        do {
            _ = try decode(ChatCompletionRequest.self, json)
            Issue.record("decoded \(json)")
        } catch {
            #expect(error.status == 400 && error.param == param)
            if let code { #expect(error.code == code) }
        }
    }

    @Test func outOfRangeValuesNameTheField() throws {
        let r = try decode(ChatCompletionRequest.self, #"{"model":"m","messages":[],"top_p":0,"logit_bias":{"x":1}}"#)
        #expect(throws: APIError.invalidRequest("logit_bias keys must be token ids, got 'x'.", param: "logit_bias", code: "invalid_value")) {
            try r.fields.generationRequest(prompt: [1], topLogprobs: nil)
        }
        // Ranges are the engine's to check; its refusal reaches the client naming the field.
        let bad = try decode(ChatCompletionRequest.self, #"{"model":"m","messages":[],"top_p":0}"#)
        let sampling = try bad.fields.generationRequest(prompt: [1], topLogprobs: nil).sampling
        do {
            try sampling.validate(vocabularySize: 10)
            Issue.record("top_p 0 accepted")
        } catch { #expect(APIError(EngineError.invalidSampling(error)).param == "top_p") }
        #expect(APIError(EngineError.invalidMaxTokens(0), fields: ["max_tokens": "max_completion_tokens"]).param == "max_completion_tokens")
    }

    @Test func engineRefusalsMapToStatuses() {
        #expect(APIError(EngineError.queueFull(waiting: 3)).status == 429)
        #expect(APIError(EngineError.queueFull(waiting: 3)).headers["Retry-After"] == "1")
        #expect(APIError(EngineError.shuttingDown).status == 503)
        #expect(APIError(EngineError.promptTooLong(tokens: 9, context: 8)).code == "context_length_exceeded")
    }

    @Test func errorBodyHasExplicitNulls() throws {
        let body = APIError.invalidRequest("bad").body
        let json = try #require(try JSONSerialization.jsonObject(with: body) as? [String: [String: Any]])
        #expect(json["error"]?["param"] is NSNull && json["error"]?["code"] is NSNull)
    }
}
