/// Python `str` semantics the templates rely on. Python strings are
/// sequences of code points, so everything here works on Unicode scalars,
/// not on Swift's grapheme clusters (`len("👍🏽")` is 2 in Python).
enum PythonString {
    /// `str.isspace()` per character: Unicode White_Space plus the
    /// information separators U+001C...U+001F, which Python counts too.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
    }

    static func scalars(_ string: String) -> [Unicode.Scalar] { Array(string.unicodeScalars) }

    static func string<S: Sequence>(_ scalars: S) -> String where S.Element == Unicode.Scalar {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    static func length(_ string: String) -> Int { string.unicodeScalars.count }

    // MARK: strip

    static func strip(_ string: String, chars: String? = nil, leading: Bool = true, trailing: Bool = true) -> String {
        let drop: (Unicode.Scalar) -> Bool
        if let chars {
            let set = Set(chars.unicodeScalars)
            drop = { set.contains($0) }
        } else {
            drop = isSpace
        }
        let view = string.unicodeScalars
        var start = view.startIndex
        var end = view.endIndex
        if leading { while start < end, drop(view[start]) { view.formIndex(after: &start) } }
        if trailing {
            while end > start {
                let before = view.index(before: end)
                guard drop(view[before]) else { break }
                end = before
            }
        }
        return String(view[start..<end])
    }

    static func rstrip(_ string: String) -> String { strip(string, leading: false) }

    // MARK: case

    /// `str.title()`: a cased character after an uncased one starts a word.
    static func title(_ string: String) -> String {
        var out = ""
        var previousCased = false
        for scalar in string.unicodeScalars {
            out += previousCased ? scalar.properties.lowercaseMapping : scalar.properties.titlecaseMapping
            previousCased = scalar.properties.isCased
        }
        return out
    }

    /// `str.capitalize()`: first character title-cased, the rest lowered.
    static func capitalize(_ string: String) -> String {
        var out = ""
        for (index, scalar) in string.unicodeScalars.enumerated() {
            out += index == 0 ? scalar.properties.titlecaseMapping : scalar.properties.lowercaseMapping
        }
        return out
    }

    /// jinja2's `title` filter (not `str.title()`): words start after
    /// whitespace or one of `-({[<`, so "they're" stays "They're".
    static func jinjaTitle(_ string: String) -> String {
        var out = ""
        var atWordStart = true
        for scalar in string.unicodeScalars {
            let separator = isSpace(scalar) || "-({[<".unicodeScalars.contains(scalar)
            if separator {
                out.unicodeScalars.append(scalar)
                atWordStart = true
            } else {
                out += atWordStart ? scalar.properties.uppercaseMapping : scalar.properties.lowercaseMapping
                atWordStart = false
            }
        }
        return out
    }

    static func isLower(_ string: String) -> Bool { hasCased(string) && string == string.lowercased() }
    static func isUpper(_ string: String) -> Bool { hasCased(string) && string == string.uppercased() }
    private static func hasCased(_ string: String) -> Bool { string.unicodeScalars.contains { $0.properties.isCased } }

    // MARK: search and split

    /// Index (in scalars) of the first occurrence of `needle` at or after `from`.
    static func find(_ haystack: [Unicode.Scalar], _ needle: [Unicode.Scalar], from: Int = 0) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        if needle.isEmpty { return from <= haystack.count ? from : nil }
        var i = max(from, 0)
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    static func count(_ string: String, _ needle: String) -> Int {
        let hay = scalars(string)
        let pin = scalars(needle)
        if pin.isEmpty { return hay.count + 1 }
        var total = 0
        var from = 0
        while let at = find(hay, pin, from: from) {
            total += 1
            from = at + pin.count
        }
        return total
    }

    static func replace(_ string: String, _ old: String, _ new: String, count: Int = -1) -> String {
        let hay = scalars(string)
        let pin = scalars(old)
        var out: [Unicode.Scalar] = []
        var from = 0
        var done = 0
        if pin.isEmpty {
            // Python inserts `new` between every character (and at both ends).
            for scalar in hay where count < 0 || done < count {
                out += new.unicodeScalars
                out.append(scalar)
                done += 1
            }
            if count < 0 || done < count { out += new.unicodeScalars; from = hay.count } else { from = done }
            out += hay[from...]
            return PythonString.string(out)
        }
        while count < 0 || done < count, let at = find(hay, pin, from: from) {
            out += hay[from..<at]
            out += new.unicodeScalars
            from = at + pin.count
            done += 1
        }
        out += hay[from...]
        return PythonString.string(out)
    }

    /// `str.split(sep, maxsplit)`; no separator splits on whitespace runs.
    static func split(_ string: String, separator: String?, maxSplit: Int = -1) -> [String] {
        let all = scalars(string)
        guard let separator else {
            var parts: [String] = []
            var i = 0
            while i < all.count {
                while i < all.count, isSpace(all[i]) { i += 1 }
                guard i < all.count else { break }
                if maxSplit >= 0 && parts.count == maxSplit {
                    var end = all.count
                    while end > i, isSpace(all[end - 1]) { end -= 1 }
                    parts.append(PythonString.string(all[i..<end]))
                    break
                }
                let start = i
                while i < all.count, !isSpace(all[i]) { i += 1 }
                parts.append(PythonString.string(all[start..<i]))
            }
            return parts
        }
        let pin = scalars(separator)
        var parts: [String] = []
        var from = 0
        while maxSplit < 0 || parts.count < maxSplit, let at = find(all, pin, from: from) {
            parts.append(PythonString.string(all[from..<at]))
            from = at + pin.count
        }
        parts.append(PythonString.string(all[from...]))
        return parts
    }

    static func splitLines(_ string: String) -> [String] {
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        let all = scalars(string)
        var i = 0
        while i < all.count {
            let scalar = all[i]
            if "\n\r\u{0B}\u{0C}\u{1C}\u{1D}\u{1E}\u{85}\u{2028}\u{2029}".unicodeScalars.contains(scalar) {
                parts.append(String(current))
                current = String.UnicodeScalarView()
                if scalar == "\r", i + 1 < all.count, all[i + 1] == "\n" { i += 1 }
            } else {
                current.append(scalar)
            }
            i += 1
        }
        if !current.isEmpty { parts.append(String(current)) }
        return parts
    }

    // MARK: literals

    /// Decodes a jinja2 string literal body the way Python's
    /// "unicode-escape" codec does (jinja2 uses exactly that).
    static func unescape(_ raw: String, line: Int) throws(TemplateError) -> String {
        guard raw.contains("\\") else { return raw }
        let input = scalars(raw)
        var out = String.UnicodeScalarView()
        var i = 0
        func hex(_ digits: Int) throws(TemplateError) -> Unicode.Scalar {
            guard i + digits < input.count else { throw .syntax("truncated escape in string literal", line: line) }
            let text = PythonString.string(input[(i + 1)...(i + digits)])
            guard let value = UInt32(text, radix: 16), let scalar = Unicode.Scalar(value) else {
                throw .syntax("invalid escape '\\\(text)' in string literal", line: line)
            }
            i += digits
            return scalar
        }
        while i < input.count {
            let scalar = input[i]
            guard scalar == "\\", i + 1 < input.count else {
                out.append(scalar)
                i += 1
                continue
            }
            i += 1
            let code = input[i]
            switch code {
            case "\n": break
            case "\\", "'", "\"": out.append(code)
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "x": out.append(try hex(2))
            case "u": out.append(try hex(4))
            case "U": out.append(try hex(8))
            case "0"..."7":
                var value = code.value - 0x30
                var taken = 1
                while taken < 3, i + 1 < input.count, ("0"..."7").contains(input[i + 1]) {
                    i += 1
                    value = value * 8 + input[i].value - 0x30
                    taken += 1
                }
                out.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            case "N": throw .unsupported("\\N{...} escape in string literal", line: line)
            default:
                out.append("\\")
                out.append(code)
            }
            i += 1
        }
        return String(out)
    }

    /// Python's `repr(str)`, used when a list or dict is printed.
    static func repr(_ string: String) -> String {
        let quote: Unicode.Scalar = string.contains("'") && !string.contains("\"") ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for scalar in string.unicodeScalars {
            switch scalar {
            case quote, "\\":
                out.append("\\")
                out.append(scalar)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            default:
                if isPrintable(scalar) {
                    out.append(scalar)
                } else {
                    let hex = String(scalar.value, radix: 16)
                    let (prefix, width) = scalar.value < 0x100 ? ("\\x", 2) : scalar.value < 0x10000 ? ("\\u", 4) : ("\\U", 8)
                    out.append(contentsOf: (prefix + String(repeating: "0", count: width - hex.count) + hex).unicodeScalars)
                }
            }
        }
        out.append(quote)
        return String(out)
    }

    /// Python's `str.isprintable()` per character: everything but
    /// separators (other than space) and "other" categories.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }
}
