import Foundation
import OpenAI

/// A choice's text read as content and tool calls, as far as it has come.
/// The same reading gives the final message and, piece by piece, the
/// streamed deltas, so both say the same: a call's arguments are the text
/// the model wrote, not re-encoded.
struct ToolCallReading {
    struct Call {
        var name: String
        /// The arguments' JSON text so far (all of it once `complete`).
        var arguments: String
        var complete: Bool
    }
    /// Text outside calls (trimmed at the end; while streaming, up to its last non-space).
    var content = ""
    var calls: [Call] = []
}

extension ToolUse {
    /// Reads Qwen's `<tool_call>{...}</tool_call>` tags, or an answer that
    /// opens with a call object (the whole answer under `required` and named
    /// choices; text after it is content). Mid-stream (`final` false) a tag
    /// or object not yet decided is held back; at the end, what did not read
    /// as a call is content.
    func read(_ text: String, final: Bool) -> ToolCallReading {
        var reading = ToolCallReading()
        if callSchema != nil || (!text.contains("<tool_call>") && text.drop(while: \.isWhitespace).hasPrefix("{")) {
            if let (call, after) = call(Substring(text), final: final, textAfter: true) {
                reading.calls = [call]
                reading.content = String(after)
            } else if final {
                reading.content = text
            }
            return reading.finishing(final)
        }
        var rest = Substring(text)
        while let open = rest.range(of: "<tool_call>") {
            reading.content += rest[..<open.lowerBound]
            let after = rest[open.upperBound...]
            let close = after.range(of: "</tool_call>")
            if let (call, _) = call(close.map { after[..<$0.lowerBound] } ?? after, final: final || close != nil, textAfter: false) {
                reading.calls.append(call)
            } else if final || close != nil {
                reading.content += rest[open.lowerBound..<(close?.upperBound ?? after.endIndex)]
            }
            rest = close.map { after[$0.upperBound...] } ?? ""
        }
        // A tail that may still become "<tool_call>" waits for the next piece.
        if !final, let held = (1..<"<tool_call>".count).reversed().first(where: { rest.hasSuffix("<tool_call>".prefix($0)) }) {
            rest = rest.dropLast(held)
        }
        reading.content += rest
        return reading.finishing(final)
    }

    /// `{"name": "<callable tool>", "arguments": <object>}` read in that
    /// order as far as it goes: the name once complete, the arguments' text
    /// as it grows; and the text after the object. When `ended`, only a
    /// complete call with valid arguments counts (with nothing after it
    /// unless `textAfter`), or, in another key order, a whole body that is an
    /// object naming a callable tool.
    private func call(_ body: Substring, final ended: Bool, textAfter: Bool) -> (ToolCallReading.Call, Substring)? {
        var scanner = JSONPrefixScanner(body)
        if scanner.take("{"), scanner.take("\"name\""), scanner.take(":"), let name = scanner.string(),
           callable.contains(where: { $0.function.name == name }) {
            var call = ToolCallReading.Call(name: name, arguments: "", complete: false)
            if scanner.take(","), scanner.take("\"arguments\"") || scanner.take("\"parameters\""), scanner.take(":"),
               let (value, complete) = scanner.container() {
                call.arguments = String(decoding: value, as: UTF8.self)
                // Complete: valid arguments and the object closed.
                call.complete = complete && (try? JSONDecoder().decode(JSONValue.self, from: Data(value))) != nil && scanner.take("}")
            }
            let after = call.complete ? Substring(String(decoding: scanner.bytes, as: UTF8.self)) : ""
            if !ended || (call.complete && (textAfter || after.allSatisfy(\.isWhitespace))) { return (call, after) }
        }
        guard ended else { return nil }
        // Another order, or arguments given as a JSON string: decoded whole.
        guard let data = body.trimmingCharacters(in: .whitespacesAndNewlines).data(using: .utf8),
              let object = try? JSONDecoder().decode(JSONValue.self, from: data),
              case .string(let name)? = object["name"], callable.contains(where: { $0.function.name == name }) else { return nil }
        let arguments = object["arguments"] ?? object["parameters"] ?? .object([:])
        if case .string(let already) = arguments { return (.init(name: name, arguments: already, complete: true), "") }
        return (.init(name: name, arguments: arguments.canonicalJSON, complete: true), "")
    }
}

extension ToolCallReading {
    /// Content without leading space; mid-stream also without trailing space (more may follow it).
    fileprivate func finishing(_ final: Bool) -> ToolCallReading {
        var r = self
        r.content = String(content.drop(while: \.isWhitespace))
        if final || r.content.last?.isWhitespace == true {
            while r.content.last?.isWhitespace == true { r.content.removeLast() }
        }
        return r
    }
}

/// Reads JSON tokens off the front of text that may stop anywhere.
private struct JSONPrefixScanner {
    var bytes: ArraySlice<UInt8>

    init(_ text: Substring) { bytes = Array(text.utf8)[...] }

    mutating func skipSpace() {
        while let c = bytes.first, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { bytes.removeFirst() }
    }

    /// Consumes `literal` after any space; false (consuming only the space) if the text does not start with it (yet).
    mutating func take(_ literal: String) -> Bool {
        skipSpace()
        let expected = Array(literal.utf8)
        guard bytes.starts(with: expected) else { return false }
        bytes.removeFirst(expected.count)
        return true
    }

    /// A complete JSON string, decoded.
    mutating func string() -> String? {
        skipSpace()
        guard bytes.first == 0x22, let end = closingQuote(after: bytes.startIndex) else { return nil }
        let raw = bytes[bytes.startIndex...end]
        bytes = bytes[(end + 1)...]
        return try? JSONDecoder().decode(String.self, from: Data(raw))
    }

    /// An object or array: its bytes so far, and whether it closed (then consumed).
    mutating func container() -> (ArraySlice<UInt8>, Bool)? {
        skipSpace()
        guard let first = bytes.first, first == 0x7B || first == 0x5B else { return nil }
        var depth = 0, i = bytes.startIndex
        while i < bytes.endIndex {
            switch bytes[i] {
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D:
                depth -= 1
                if depth == 0 {
                    defer { bytes = bytes[(i + 1)...] }
                    return (bytes[...i], true)
                }
            case 0x22:
                guard let end = closingQuote(after: i) else { return (bytes, false) }
                i = end
            default: break
            }
            i += 1
        }
        return (bytes, false)
    }

    private func closingQuote(after open: Int) -> Int? {
        var i = open + 1, escaped = false
        while i < bytes.endIndex {
            if escaped { escaped = false } else if bytes[i] == 0x5C { escaped = true } else if bytes[i] == 0x22 { return i }
            i += 1
        }
        return nil
    }
}

/// What one choice of a streamed tools request has sent: its text so far,
/// and the content and call text already in deltas. Each piece sends only
/// what its reading adds.
struct ToolCallDeltas {
    private var text = ""
    private var sentContent = ""
    private var sentArguments: [String] = []

    /// The deltas `piece` adds.
    mutating func advance(_ piece: String, tools: ToolUse, callID: (Int) -> String)
        -> (content: String?, calls: [ChatCompletionChunk.ToolCallDelta]) {
        text += piece
        return deltas(tools.read(text, final: false), callID: callID)
    }

    /// The rest of the choice, whose whole text is `whole`.
    mutating func finish(_ whole: String, tools: ToolUse, callID: (Int) -> String)
        -> (content: String?, calls: [ChatCompletionChunk.ToolCallDelta]) {
        text = whole
        return deltas(tools.read(text, final: true), callID: callID)
    }

    private mutating func deltas(_ reading: ToolCallReading, callID: (Int) -> String)
        -> (content: String?, calls: [ChatCompletionChunk.ToolCallDelta]) {
        var content: String?
        if reading.content.count > sentContent.count, reading.content.hasPrefix(sentContent) {
            content = String(reading.content.dropFirst(sentContent.count))
            sentContent = reading.content
        }
        var deltas: [ChatCompletionChunk.ToolCallDelta] = []
        for (k, call) in reading.calls.enumerated() {
            if k == sentArguments.count {
                deltas.append(.init(index: k, id: callID(k), name: call.name, arguments: call.arguments))
                sentArguments.append(call.arguments)
            } else if k < sentArguments.count, call.arguments.count > sentArguments[k].count, call.arguments.hasPrefix(sentArguments[k]) {
                deltas.append(.init(index: k, arguments: String(call.arguments.dropFirst(sentArguments[k].count))))
                sentArguments[k] = call.arguments
            }
        }
        return (content, deltas)
    }
}
