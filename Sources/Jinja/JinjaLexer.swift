/// One lexical unit of a template.
enum JinjaTokenKind: Equatable, Sendable {
    /// Literal template data, with whitespace control already applied.
    case text(String)
    case blockBegin, blockEnd  // {% %}
    case variableBegin, variableEnd  // {{ }}
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
    case end
}

struct JinjaToken: Sendable {
    let kind: JinjaTokenKind
    let line: Int
}

/// Splits template source into text and tag tokens the way jinja2's lexer
/// does under Hugging Face's settings: trim_blocks (drop the first newline
/// after a block or comment tag), lstrip_blocks (drop spaces before a block
/// or comment tag that starts a line), `-`/`+` markers, and
/// keep_trailing_newline off (one final newline of the source is dropped).
struct JinjaLexer {
    private let bytes: [UInt8]
    private var pos = 0
    private var line = 1
    /// Whether the last consumed input ended a line; jinja2 lstrips a tag at
    /// the very start of the remaining text only in that case.
    private var lineStarting = true
    private var brackets: [UInt8] = []
    private var tokens: [JinjaToken] = []

    static func tokenize(_ source: String) throws(TemplateError) -> [JinjaToken] {
        var lexer = JinjaLexer(bytes: normalizedNewlines(source))
        try lexer.run()
        return lexer.tokens
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// \r\n and \r become \n (jinja2 normalizes all line breaks), and one
    /// trailing newline is removed.
    private static func normalizedNewlines(_ source: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(source.utf8.count)
        var previousWasCR = false
        for byte in source.utf8 {
            if byte == ascii("\r") {
                out.append(ascii("\n"))
            } else if !(byte == ascii("\n") && previousWasCR) {
                out.append(byte)
            }
            previousWasCR = byte == ascii("\r")
        }
        if out.last == ascii("\n") { out.removeLast() }
        return out
    }

    private mutating func run() throws(TemplateError) {
        while pos < bytes.count {
            guard let open = nextTagOpen(from: pos) else {
                appendText(from: pos, to: bytes.count)
                break
            }
            let kind = bytes[open + 1]
            var afterOpen = open + 2
            var sign: UInt8 = 0
            if afterOpen < bytes.count, bytes[afterOpen] == ascii("-") || bytes[afterOpen] == ascii("+") {
                sign = bytes[afterOpen]
                afterOpen += 1
            }
            let textLine = line
            var text = decode(pos, open)
            line += newlineCount(pos, open)
            if sign == ascii("-") {
                text = PythonString.rstrip(text)
            } else if sign != ascii("+") && kind != ascii("{") {
                text = lstripBlock(text)
            }
            if !text.isEmpty { tokens.append(JinjaToken(kind: .text(text), line: textLine)) }
            pos = afterOpen
            switch kind {
            case ascii("#"): try skipComment()
            case ascii("%"):
                if let contentStart = rawBlockStart() {
                    pos = contentStart
                    try lexRawBody()
                } else {
                    tokens.append(JinjaToken(kind: .blockBegin, line: line))
                    try lexTag(closer: ascii("%"))
                }
            default:
                tokens.append(JinjaToken(kind: .variableBegin, line: line))
                try lexTag(closer: ascii("}"))
            }
        }
        tokens.append(JinjaToken(kind: .end, line: line))
    }

    // MARK: text and whitespace control

    private func nextTagOpen(from start: Int) -> Int? {
        var i = start
        while i + 1 < bytes.count {
            if bytes[i] == ascii("{") {
                let next = bytes[i + 1]
                if next == ascii("{") || next == ascii("%") || next == ascii("#") { return i }
            }
            i += 1
        }
        return nil
    }

    private mutating func appendText(from start: Int, to end: Int) {
        guard start < end else { return }
        tokens.append(JinjaToken(kind: .text(decode(start, end)), line: line))
        line += newlineCount(start, end)
    }

    /// lstrip_blocks: spaces between the start of a line and a block tag go.
    private func lstripBlock(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        let lineStart = (scalars.lastIndex(of: "\n").map { $0 + 1 }) ?? 0
        guard lineStart > 0 || lineStarting, lineStart < scalars.count,
            scalars[lineStart...].allSatisfy(PythonString.isSpace)
        else { return text }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: scalars[..<lineStart])
        return String(kept)
    }

    private func decode(_ start: Int, _ end: Int) -> String {
        String(decoding: bytes[start..<end], as: UTF8.self)
    }

    private func newlineCount(_ start: Int, _ end: Int) -> Int {
        var count = 0
        for i in start..<end where bytes[i] == ascii("\n") { count += 1 }
        return count
    }

    private func hasPrefix(_ literal: String, at index: Int) -> Bool {
        let utf8 = Array(literal.utf8)
        guard index + utf8.count <= bytes.count else { return false }
        for (offset, byte) in utf8.enumerated() where bytes[index + offset] != byte { return false }
        return true
    }

    /// Skips whitespace (Python's `\s`), counting lines; returns whether any was skipped.
    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        let start = pos
        while pos < bytes.count {
            let (scalar, length) = scalarAt(pos)
            guard PythonString.isSpace(scalar) else { break }
            if scalar == "\n" { line += 1 }
            pos += length
        }
        return pos > start
    }

    private func scalarAt(_ index: Int) -> (Unicode.Scalar, Int) {
        let lead = bytes[index]
        if lead < 0x80 { return (Unicode.Scalar(lead), 1) }
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
        var value = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        var i = index + 1
        while i < min(index + length, bytes.count) {
            value = value << 6 | (UInt32(bytes[i]) & 0x3F)
            i += 1
        }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", length)
    }

    // MARK: comments and raw blocks

    private mutating func skipComment() throws(TemplateError) {
        let startLine = line
        var i = pos
        while i + 1 < bytes.count {
            if (bytes[i] == ascii("-") || bytes[i] == ascii("+")) && hasPrefix("#}", at: i + 1) {
                line += newlineCount(pos, i)
                pos = i + 3
                finishTagEnd(sign: bytes[i])
                return
            }
            if bytes[i] == ascii("#") && bytes[i + 1] == ascii("}") {
                line += newlineCount(pos, i)
                pos = i + 2
                finishTagEnd(sign: 0)
                return
            }
            i += 1
        }
        throw .syntax("missing end of comment tag", line: startLine)
    }

    /// After a closing `%}`/`#}`: `-` eats all following whitespace, plain
    /// eats one newline (trim_blocks), `+` keeps everything.
    private mutating func finishTagEnd(sign: UInt8) {
        lineStarting = false
        if sign == ascii("-") {
            let start = pos
            skipWhitespace()
            lineStarting = pos > start && bytes[pos - 1] == ascii("\n")
        } else if sign == 0, pos < bytes.count, bytes[pos] == ascii("\n") {
            pos += 1
            line += 1
            lineStarting = true
        }
    }

    /// Matches `\s*raw\s*(-%}\s*|%})` after a `{%`; returns where the raw body starts.
    private mutating func rawBlockStart() -> Int? {
        let saved = (pos, line)
        skipWhitespace()
        guard hasPrefix("raw", at: pos) else {
            (pos, line) = saved
            return nil
        }
        pos += 3
        skipWhitespace()
        if hasPrefix("-%}", at: pos) {
            pos += 3
            let start = pos
            skipWhitespace()
            lineStarting = pos > start && bytes[pos - 1] == ascii("\n")
            return pos
        }
        if hasPrefix("%}", at: pos) {
            pos += 2
            lineStarting = false
            return pos
        }
        (pos, line) = saved
        return nil
    }

    private mutating func lexRawBody() throws(TemplateError) {
        let startLine = line
        var i = pos
        while i + 1 < bytes.count {
            if bytes[i] == ascii("{") && bytes[i + 1] == ascii("%") {
                var j = i + 2
                var sign: UInt8 = 0
                if j < bytes.count, bytes[j] == ascii("-") || bytes[j] == ascii("+") {
                    sign = bytes[j]
                    j += 1
                }
                let saved = (pos, line)
                pos = j
                skipWhitespace()
                if hasPrefix("endraw", at: pos) {
                    pos += 6
                    skipWhitespace()
                    var endSign: UInt8? = nil
                    if hasPrefix("-%}", at: pos) || hasPrefix("+%}", at: pos) {
                        endSign = bytes[pos]
                        pos += 3
                    } else if hasPrefix("%}", at: pos) {
                        endSign = 0
                        pos += 2
                    }
                    if let endSign {
                        var text = decode(saved.0, i)
                        if sign == ascii("-") {
                            text = PythonString.rstrip(text)
                        } else if sign != ascii("+") {
                            text = lstripBlock(text)
                        }
                        if !text.isEmpty { tokens.append(JinjaToken(kind: .text(text), line: startLine)) }
                        line = saved.1 + newlineCount(saved.0, pos)
                        finishTagEnd(sign: endSign)
                        return
                    }
                }
                (pos, line) = saved
            }
            i += 1
        }
        throw .syntax("missing end of raw directive", line: startLine)
    }

    // MARK: tags

    /// Lexes expression tokens up to the tag's closer (`%}` or `}}`), which
    /// only counts outside brackets so `{{ {'a': {}} }}` works.
    private mutating func lexTag(closer: UInt8) throws(TemplateError) {
        let isBlock = closer == ascii("%")
        let close = isBlock ? "%}" : "}}"
        let startLine = line
        while true {
            skipWhitespace()
            guard pos < bytes.count else {
                throw .syntax("unexpected end of template, expected '\(close)'", line: startLine)
            }
            if brackets.isEmpty {
                if hasPrefix("-" + close, at: pos) {
                    pos += 3
                    tokens.append(JinjaToken(kind: isBlock ? .blockEnd : .variableEnd, line: line))
                    finishTagEnd(sign: ascii("-"))
                    return
                }
                if isBlock && hasPrefix("+%}", at: pos) {
                    pos += 3
                    tokens.append(JinjaToken(kind: .blockEnd, line: line))
                    finishTagEnd(sign: ascii("+"))
                    return
                }
                if hasPrefix(close, at: pos) {
                    pos += 2
                    tokens.append(JinjaToken(kind: isBlock ? .blockEnd : .variableEnd, line: line))
                    // trim_blocks applies to block tags only.
                    finishTagEnd(sign: isBlock ? 0 : ascii("+"))
                    return
                }
            }
            try lexExpressionToken()
        }
    }

    private mutating func lexExpressionToken() throws(TemplateError) {
        let byte = bytes[pos]
        let tokenLine = line
        if isDigit(byte) {
            tokens.append(JinjaToken(kind: try lexNumber(), line: tokenLine))
        } else if isNameStart(byte) {
            let start = pos
            while pos < bytes.count, isNameStart(bytes[pos]) || isDigit(bytes[pos]) { pos += 1 }
            tokens.append(JinjaToken(kind: .name(decode(start, pos)), line: tokenLine))
        } else if byte == ascii("'") || byte == ascii("\"") {
            tokens.append(JinjaToken(kind: .string(try lexString(quote: byte)), line: tokenLine))
        } else {
            tokens.append(JinjaToken(kind: .op(try lexOperator()), line: tokenLine))
        }
    }

    private mutating func lexNumber() throws(TemplateError) -> JinjaTokenKind {
        let start = pos
        func digits() {
            while pos < bytes.count, isDigit(bytes[pos]) || (bytes[pos] == ascii("_") && pos + 1 < bytes.count && isDigit(bytes[pos + 1])) {
                pos += 1
            }
        }
        digits()
        // After a '.', `x.0.1` is attribute access, so no fraction there.
        let afterDot: Bool
        if case .op(".")? = tokens.last?.kind { afterDot = true } else { afterDot = false }
        var isFloat = false
        if !afterDot, pos + 1 < bytes.count, bytes[pos] == ascii("."), isDigit(bytes[pos + 1]) {
            pos += 1
            digits()
            isFloat = true
        }
        if !afterDot, pos < bytes.count, bytes[pos] == ascii("e") || bytes[pos] == ascii("E") {
            var j = pos + 1
            if j < bytes.count, bytes[j] == ascii("+") || bytes[j] == ascii("-") { j += 1 }
            if j < bytes.count, isDigit(bytes[j]) {
                pos = j
                digits()
                isFloat = true
            }
        }
        let text = decode(start, pos).replacingUnderscores()
        if isFloat {
            guard let value = Double(text) else { throw .syntax("invalid number '\(text)'", line: line) }
            return .float(value)
        }
        guard let value = Int(text) else { throw .syntax("integer '\(text)' is too large", line: line) }
        return .integer(value)
    }

    private mutating func lexString(quote: UInt8) throws(TemplateError) -> String {
        let startLine = line
        var i = pos + 1
        while i < bytes.count, bytes[i] != quote {
            if bytes[i] == ascii("\\") { i += 1 }
            i += 1
        }
        guard i < bytes.count else { throw .syntax("unterminated string", line: startLine) }
        let raw = decode(pos + 1, i)
        line += newlineCount(pos, i)
        pos = i + 1
        return try PythonString.unescape(raw, line: startLine)
    }

    private mutating func lexOperator() throws(TemplateError) -> String {
        for candidate in ["//", "**", "==", "!=", ">=", "<="] where hasPrefix(candidate, at: pos) {
            pos += 2
            return candidate
        }
        let byte = bytes[pos]
        let single = "+-/*%~[](){}><=.:|,;"
        guard single.utf8.contains(byte) else {
            let (scalar, _) = scalarAt(pos)
            throw .syntax("unexpected character '\(Character(scalar))'", line: line)
        }
        pos += 1
        switch byte {
        case ascii("("): brackets.append(ascii(")"))
        case ascii("["): brackets.append(ascii("]"))
        case ascii("{"): brackets.append(ascii("}"))
        case ascii(")"), ascii("]"), ascii("}"):
            guard let expected = brackets.popLast() else {
                throw .syntax("unexpected '\(Character(Unicode.Scalar(byte)))'", line: line)
            }
            guard expected == byte else {
                throw .syntax(
                    "unexpected '\(Character(Unicode.Scalar(byte)))', expected '\(Character(Unicode.Scalar(expected)))'",
                    line: line)
            }
        default: break
        }
        return String(Character(Unicode.Scalar(byte)))
    }
}

private func ascii(_ character: Unicode.Scalar) -> UInt8 { UInt8(character.value) }
private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
private func isNameStart(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
