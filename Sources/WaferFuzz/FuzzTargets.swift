// Compiled only by scripts/fuzz (-DWAFER_FUZZ -enable-testing): the internal
// decoders are reached through @testable imports, which a plain release build refuses.
#if WAFER_FUZZ
import Foundation
@testable import Batch
import Engine
import GGUF
import Jinja
import OpenAI
@testable import Serving
import Tokenizer

/// What each fuzz target does with one input. Bad input may be refused
/// (a thrown error is fine); it must not crash, hang or trip a sanitizer.
enum FuzzTargets {
    nonisolated(unsafe) static let all: [String: (Data) -> Void] = [
        "gguf": gguf,
        "chat-request": chatRequest,
        "completion-request": { decode(CompletionRequest.self, $0) },
        "responses-request": responsesRequest,
        "batch-line": { _ = try? BatchLine.parse($0) },
        "multipart": multipart,
        "jinja": jinja,
        "tokenizer": tokenizer,
        "detokenizer": detokenizer,
        "json-schema": jsonSchema,
        "tool-call": toolCall,
    ]

    /// The GGUF parser on a file of these bytes (it reads files through a mapping).
    static func gguf(_ data: Data) {
        let path = NSTemporaryDirectory() + "wafer-fuzz-\(getpid()).gguf"
        FileManager.default.createFile(atPath: path, contents: data)
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard let file = try? GGUFFile(path: path) else { return }
        for t in file.tensors.prefix(8) { _ = file.bytes(of: t).reduce(0, &+) }
        _ = try? Tokenizer(gguf: file)
    }

    @discardableResult
    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) -> T? {
        _ = DuplicateKeys.first(in: data)
        return try? JSONDecoder().decode(type, from: data)
    }

    /// A chat body as the server takes it: decoded, its tools read, its
    /// messages rendered by Qwen's template (render values come from the
    /// input) and tokenized, its response format compiled and stepped.
    static func chatRequest(_ data: Data) {
        guard let request = decode(ChatCompletionRequest.self, data) else { return }
        chat(request)
    }

    static func chat(_ request: ChatCompletionRequest) {
        let tools = try? ToolUse(request)
        if let template = qwenTemplate {
            var extra: [String: TemplateValue] = [:]
            if let tools { extra["tools"] = tools.templateTools }
            if let text = try? template.render(messages: request.messages.map(ServedModel.templateMessage), addGenerationPrompt: true,
                                               bosToken: "", eosToken: "<|im_end|>", extra: extra) {
                _ = defaultTokenizer?.encode(text, addBOS: false, parseSpecial: true)
            }
        }
        _ = request.messages.map(ServedModel.plainMessage)
        if let format = request.responseFormat, let make = try? format.constraint(byteVocabulary) { step(make()) }
        if let schema = tools?.callSchema, let (compiled, masks) = try? byteVocabulary.grammar(for: schema) {
            step(ByteGrammarConstraint(SchemaMatcher(schema: compiled), vocabulary: byteVocabulary, masks: masks))
        }
    }

    /// A Responses body, decoded and turned into the chat request it runs as.
    static func responsesRequest(_ data: Data) {
        guard let request = decode(ResponsesRequest.self, data), let chat = try? Service.chatRequest(request) else { return }
        self.chat(chat)
    }

    /// First line: the Content-Type header; the rest: the body.
    static func multipart(_ data: Data) {
        let bytes = [UInt8](data)
        let split = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
        let contentType = String(decoding: bytes[..<split], as: UTF8.self)
        let body = Data(bytes[min(split + 1, bytes.endIndex)...])
        guard let form = Multipart(body: body, contentType: contentType) else { return }
        _ = form.part("file")?.content.count
    }

    /// The input as a chat template, rendered with a small conversation.
    static func jinja(_ data: Data) {
        guard let source = String(data: data, encoding: .utf8), let template = try? ChatTemplate(source: source) else { return }
        _ = try? template.render(messages: [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "hi")],
                                 addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>",
                                 extra: ["tools": [["type": "function", "function": ["name": "f", "parameters": ["type": "object"]]]]])
    }

    /// The default model's tokenizer: encode the input, decode the ids back.
    static func tokenizer(_ data: Data) {
        guard let tokenizer = defaultTokenizer else { return }
        let text = String(decoding: data, as: UTF8.self)
        for special in [false, true] {
            let ids = tokenizer.encode(text, addBOS: false, parseSpecial: special)
            _ = tokenizer.decode(ids, special: special)
        }
    }

    /// Any ids (two bytes each, some out of range) through the streaming detokenizer.
    static func detokenizer(_ data: Data) {
        guard let tokenizer = defaultTokenizer else { return }
        var stream = StreamingDetokenizer(tokenizer: tokenizer, special: data.first.map { $0 & 1 == 1 } ?? false)
        let bytes = [UInt8](data)
        for i in stride(from: 0, to: bytes.count - 1, by: 2) {
            let id = Int32(bytes[i]) | Int32(bytes[i + 1]) << 8
            guard id < tokenizer.vocabularySize else { continue }
            _ = stream.append(id)
        }
        _ = stream.flush()
    }

    /// A JSON schema (up to the first NUL) compiled, then the bytes after it
    /// fed to its matcher and, token by token, to its constraint.
    static func jsonSchema(_ data: Data) {
        let bytes = [UInt8](data)
        let split = bytes.firstIndex(of: 0) ?? bytes.endIndex
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes[..<split])),
              let schema = try? JSONSchema(document) else { return }
        var matcher = SchemaMatcher(schema: schema)
        let text = bytes[min(split + 1, bytes.endIndex)...]
        _ = matcher.feed(text)
        _ = matcher.isComplete
        step(ByteGrammarConstraint(SchemaMatcher(schema: schema), vocabulary: byteVocabulary, masks: MaskCache<SchemaMatcher>()))
    }

    /// Model output read for tool calls, under `auto` and `required`: whole,
    /// and streamed in pieces of the sizes the first byte picks.
    static func toolCall(_ data: Data) {
        let text = String(decoding: data.dropFirst(), as: UTF8.self)
        let piece = Int(data.first ?? 1) % 7 + 1
        for tools in toolUses {
            _ = tools.read(text, final: true)
            var deltas = ToolCallDeltas()
            var rest = Substring(text)
            while !rest.isEmpty {
                _ = deltas.advance(String(rest.prefix(piece)), tools: tools, callID: { "call_\($0)" })
                rest = rest.dropFirst(piece)
            }
            _ = deltas.finish(text, tools: tools, callID: { "call_\($0)" })
        }
    }

    /// A few sampling steps under a constraint: mask, then take the first allowed token.
    static func step(_ constraint: any TokenConstraint) {
        var logits = [Float](repeating: 0, count: byteVocabulary.bytes.count)
        for _ in 0..<8 {
            logits.withUnsafeMutableBufferPointer { constraint.mask($0, endOfTurn: [0]) }
            guard let next = logits.indices.first(where: { $0 != 0 && logits[$0] == 0 }) else { return }
            constraint.accept(Int32(next))
            for i in logits.indices { logits[i] = 0 }
        }
    }

    /// Token 0 is the end of turn; then every byte, then some multi-byte JSON pieces.
    static let byteVocabulary = TokenBytes(bytes: [[]] + (0...255).map { [UInt8($0)] }
        + ["\"", "\": ", "{\"", "\"}", "true", "null", "12", "-0.5e3", "\\u00e9", "é", "},{"].map { Array($0.utf8) })

    static let toolUses: [ToolUse] = ["auto", "required"].compactMap { choice in
        let body = """
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "\(choice)", "tools": [
             {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
              "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}},
             {"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}}]}
            """
        return (try? JSONDecoder().decode(ChatCompletionRequest.self, from: Data(body.utf8))).flatMap { try? ToolUse($0) }
    }

    static let qwenTemplate: ChatTemplate? = {
        let path = ProcessInfo.processInfo.environment["WAFER_FUZZ_TEMPLATE"] ?? "Tests/Fixtures/templates/qwen2.jinja"
        return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { try? ChatTemplate(source: $0) }
    }()

    static let defaultTokenizer: Tokenizer? = {
        let path = ProcessInfo.processInfo.environment["WAFER_FUZZ_MODEL"] ?? "models/SmolLM2-135M-Instruct.Q4_1.gguf"
        return (try? GGUFFile(path: path)).flatMap { try? Tokenizer(gguf: $0) }
    }()
}

/// libFuzzer's entry point (its own main drives it); the target is named by WAFER_FUZZ_TARGET.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntry.target(bytes.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}

enum FuzzEntry {
    nonisolated(unsafe) static let target: (Data) -> Void = {
        let name = ProcessInfo.processInfo.environment["WAFER_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTargets.all[name] else {
            FileHandle.standardError.write(Data("WAFER_FUZZ_TARGET must be one of \(FuzzTargets.all.keys.sorted())\n".utf8))
            exit(2)
        }
        return target
    }()
}
#endif
