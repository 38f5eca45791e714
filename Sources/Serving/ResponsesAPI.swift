import Foundation
import OpenAI

/// `POST /v1/responses`, stateless: the request becomes a chat completion
/// (instructions as the system turn, items as turns, function tools, the
/// text format as `response_format`) that runs like any other, and its
/// answer is re-framed as a Responses API object or its typed stream events.
extension Service {
    public func responses(_ request: ResponsesRequest, context: RequestContext) throws(APIError) -> Generation {
        let chat: ChatCompletionRequest
        do { chat = try Self.chatRequest(request) } catch {
            refused(error, endpoint: .responses, context: context)
            throw error
        }
        let id = "resp_" + context.id
        let created = Int(Date().timeIntervalSince1970)
        func object(_ body: ChatCompletion?, status: String) -> ResponseObject {
            let choice = body?.choices.first
            var output: [OutputItem] = []
            for call in choice?.message.toolCalls ?? [] {
                output.append(.functionCall(id: "fc_" + call.id, callID: call.id, name: call.function.name, arguments: call.function.arguments))
            }
            if let text = choice?.message.content, choice?.message.toolCalls == nil || !text.isEmpty {
                output.append(.message(id: "msg_" + context.id, text: text))
            }
            let incomplete = choice?.finishReason == "length"
            return ResponseObject(id: id, createdAt: created, status: incomplete ? "incomplete" : status, model: body?.model ?? chat.model,
                                  output: output, usage: body.map { ResponseUsage($0.usage) },
                                  incompleteDetails: incomplete ? ["reason": "max_output_tokens"] : nil, instructions: request.instructions,
                                  maxOutputTokens: request.maxOutputTokens, temperature: request.temperature, topP: request.topP,
                                  timeInfo: body?.timeInfo)
        }
        switch try self.chat(chat, context: context, route: .responses) {
        case .completed(let completed):
            guard case .chat(let body) = completed.body else { throw .server("A chat completion answered with text.") }
            let response = object(body, status: "completed")
            return .completed(CompletedResponse(body: .response(response), json: WireJSON.encode(response), charge: completed.charge))
        case .streaming(let stream):
            return .streaming(ResponsesEventStream(stream, start: object(nil, status: "in_progress"), messageID: "msg_" + context.id,
                                                   finish: { object($0, status: "completed") }))
        }
    }

    /// The Responses request as the chat completion it runs as (through its JSON, so it is checked as any other).
    static func chatRequest(_ r: ResponsesRequest) throws(APIError) -> ChatCompletionRequest {
        if r.previousResponseID != nil {
            throw .invalidRequest("previous_response_id is not supported: this server keeps no responses; send the whole input.",
                                  param: "previous_response_id", code: "unsupported_parameter")
        }
        if r.store == true {
            throw .invalidRequest("store: true is not supported: this server keeps no responses.", param: "store", code: "unsupported_parameter")
        }
        var messages: [JSONValue] = []
        if let instructions = r.instructions { messages.append(.object(["role": .string("system"), "content": .string(instructions)])) }
        switch r.input {
        case .text(let text):
            messages.append(.object(["role": .string("user"), "content": .string(text)]))
        case .items(let items):
            for item in items {
                switch item.type ?? "message" {
                case "message":
                    messages.append(.object(["role": .string(item.role ?? "user"), "content": .string(item.content ?? "")]))
                case "function_call":
                    let call: JSONValue = .object(["id": .string(item.callID ?? ""), "type": .string("function"),
                                                   "function": .object(["name": .string(item.name ?? ""),
                                                                        "arguments": .string(item.arguments ?? "{}")])])
                    // Calls in a row are one assistant turn.
                    if case .object(var last)? = messages.last, last["role"] == .string("assistant"), case .array(var calls)? = last["tool_calls"] {
                        calls.append(call)
                        last["tool_calls"] = .array(calls)
                        messages[messages.count - 1] = .object(last)
                    } else {
                        messages.append(.object(["role": .string("assistant"), "content": .null, "tool_calls": .array([call])]))
                    }
                case "function_call_output":
                    messages.append(.object(["role": .string("tool"), "tool_call_id": .string(item.callID ?? ""),
                                             "content": .string(item.output ?? "")]))
                default:
                    throw .invalidRequest("input items of type '\(item.type ?? "")' are not supported.", param: "input", code: "unsupported_value")
                }
            }
        }
        var body: [String: JSONValue] = ["model": .string(r.model), "messages": .array(messages)]
        if let tools = r.tools {
            body["tools"] = .array(tools.map { tool in
                .object(["type": .string("function"), "function": .object([
                    "name": .string(tool.name ?? ""), "description": .string(tool.description ?? ""),
                    "parameters": tool.parameters ?? .object(["type": .string("object")])])])
            })
        }
        if let choice = r.toolChoice {
            if case .object(let named) = choice, case .string(let name)? = named["name"] {
                body["tool_choice"] = .object(["type": .string("function"), "function": .object(["name": .string(name)])])
            } else {
                body["tool_choice"] = choice
            }
        }
        if let format = r.text?.format {
            switch format.type {
            case "json_schema":
                body["response_format"] = .object(["type": .string("json_schema"), "json_schema": .object([
                    "name": .string(format.name ?? "output"), "schema": format.schema ?? .null, "strict": .bool(format.strict ?? true)])])
            case "json_object", "text":
                body["response_format"] = .object(["type": .string(format.type)])
            default:
                throw .invalidRequest("text.format type '\(format.type)' is not supported.", param: "text.format.type", code: "unsupported_value")
            }
        }
        body["max_tokens"] = r.maxOutputTokens.map { .number(Double($0)) }
        body["temperature"] = r.temperature.map(JSONValue.number)
        body["top_p"] = r.topP.map(JSONValue.number)
        if r.stream == true {
            body["stream"] = .bool(true)
            body["stream_options"] = .object(["include_usage": .bool(true)])
        }
        if let parallel = r.parallelToolCalls { body["parallel_tool_calls"] = .bool(parallel) }
        return try JSONDecoder.request(ChatCompletionRequest.self, from: WireJSON.encode(JSONValue.object(body)))
    }
}

/// A chat completion stream re-framed as the Responses API's typed events:
/// `response.created`, the message item and its text deltas, function-call
/// items, then `response.completed` with the whole response and its usage.
final class ResponsesEventStream: GenerationStream, @unchecked Sendable {  // used by the connection's thread only
    private let inner: any GenerationStream
    private let start: ResponseObject
    private let messageID: String
    private let finish: (ChatCompletion?) -> ResponseObject
    private var sequence = 0
    private var started = false
    private var ended = false
    private var text = ""
    private var messageOpen = false
    private var calls: [ToolCall] = []
    private var finishReason: String?
    private var usage: Usage?
    private var timeInfo: TimeInfo?

    init(_ inner: any GenerationStream, start: ResponseObject, messageID: String, finish: @escaping (ChatCompletion?) -> ResponseObject) {
        self.inner = inner
        self.start = start
        self.messageID = messageID
        self.finish = finish
    }

    private func event(_ type: String, _ fields: [String: JSONValue]) -> StreamEvent {
        sequence += 1
        var body = fields
        body["type"] = .string(type)
        body["sequence_number"] = .number(Double(sequence))
        return .named(type, WireJSON.encode(JSONValue.object(body)))
    }

    private func encoded<T: Encodable>(_ value: T) -> JSONValue { (try? JSONValue(encoding: value)) ?? .null }

    func next() -> [StreamEvent]? {
        guard !ended else { return nil }
        if !started {
            started = true
            return [event("response.created", ["response": encoded(start)]), event("response.in_progress", ["response": encoded(start)])]
        }
        guard let events = inner.next() else { return closing() }
        var out: [StreamEvent] = []
        for e in events {
            switch e {
            case .chat(let chunk):
                if let usage = chunk.usage { self.usage = usage; timeInfo = chunk.timeInfo }
                for choice in chunk.choices {
                    if let delta = choice.delta.content, !delta.isEmpty {
                        if !messageOpen {
                            messageOpen = true
                            out.append(event("response.output_item.added", ["output_index": .number(0), "item": encoded(
                                OutputItem(type: "message", id: messageID, status: "in_progress", role: "assistant", content: []))]))
                            out.append(event("response.content_part.added", ["item_id": .string(messageID), "output_index": .number(0),
                                                                             "content_index": .number(0), "part": encoded(OutputItem.Content(text: ""))]))
                        }
                        text += delta
                        out.append(event("response.output_text.delta", ["item_id": .string(messageID), "output_index": .number(0),
                                                                        "content_index": .number(0), "delta": .string(delta)]))
                    }
                    for call in choice.delta.toolCalls ?? [] {
                        if let id = call.id, let name = call.function.name {
                            calls.append(ToolCall(id: id, function: .init(name: name, arguments: call.function.arguments)))
                        } else if calls.indices.contains(call.index) {
                            calls[call.index].function.arguments += call.function.arguments
                        }
                    }
                    finishReason = choice.finishReason ?? finishReason
                }
            case .text:
                break
            case .failed(let error):
                ended = true
                out.append(event("error", ["code": .string(error.code ?? ""), "message": .string(error.message),
                                           "param": error.param.map(JSONValue.string) ?? .null]))
                return out
            case .named(let type, let data):
                out.append(.named(type, data))
            case .done:
                out += closing()
            }
        }
        return out
    }

    /// The message's closing events, each call as an item, then `response.completed`.
    private func closing() -> [StreamEvent] {
        guard !ended else { return [] }
        ended = true
        var out: [StreamEvent] = []
        if messageOpen {
            out.append(event("response.output_text.done", ["item_id": .string(messageID), "output_index": .number(0),
                                                           "content_index": .number(0), "text": .string(text)]))
            out.append(event("response.content_part.done", ["item_id": .string(messageID), "output_index": .number(0),
                                                            "content_index": .number(0), "part": encoded(OutputItem.Content(text: text))]))
            out.append(event("response.output_item.done", ["output_index": .number(0), "item": encoded(OutputItem.message(id: messageID, text: text))]))
        }
        for (i, call) in calls.enumerated() {
            let index = JSONValue.number(Double(i + (messageOpen ? 1 : 0)))
            let item = OutputItem.functionCall(id: "fc_" + call.id, callID: call.id, name: call.function.name, arguments: call.function.arguments)
            out.append(event("response.output_item.added", ["output_index": index, "item": encoded(item)]))
            out.append(event("response.function_call_arguments.done", ["item_id": .string(item.id), "output_index": index,
                                                                       "arguments": .string(call.function.arguments)]))
            out.append(event("response.output_item.done", ["output_index": index, "item": encoded(item)]))
        }
        let body = ChatCompletion(id: messageID, created: start.createdAt, model: start.model, choices: [
            .init(index: 0, message: .init(content: calls.isEmpty ? text : (text.isEmpty ? nil : text), toolCalls: calls.isEmpty ? nil : calls),
                  logprobs: nil, finishReason: finishReason ?? "stop")],
            usage: usage ?? Usage(promptTokens: 0, completionTokens: 0, cachedTokens: 0),
            timeInfo: timeInfo ?? TimeInfo(queueTime: 0, promptTime: 0, completionTime: 0, totalTime: 0, created: Double(start.createdAt)))
        out.append(event("response.completed", ["response": encoded(finish(body))]))
        return out
    }

    func close() { inner.close() }
}
