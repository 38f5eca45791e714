/// Hugging Face's `tojson` filter, which replaces jinja2's HTML-escaping one
/// with plain `json.dumps(x, ensure_ascii=False, indent=None,
/// separators=None, sort_keys=False)`. This reproduces json.dumps's output
/// byte for byte (spacing, escapes, float formatting).
struct PythonJSONEncoder {
    var ensureASCII = false
    /// nil: single line. Otherwise the per-level indent string.
    var indent: String? = nil
    var itemSeparator = ", "
    var keySeparator = ": "
    var sortKeys = false

    /// Builds the encoder from the filter's arguments, positional order
    /// `(ensure_ascii, indent, separators, sort_keys)` as in HF's signature.
    init(arguments: JinjaCallArguments, line: Int) throws(TemplateError) {
        if let value = arguments.get(0, "ensure_ascii") { ensureASCII = value.isTruthy }
        switch arguments.get(1, "indent") {
        case nil, .none?: indent = nil
        case .int(let n)?: indent = String(repeating: " ", count: max(n, 0))
        case .string(let s)?: indent = s
        case let other?: throw .runtime("tojson indent must be an int or str, not \(other.typeName)", line: line)
        }
        if indent != nil { itemSeparator = "," }
        switch arguments.get(2, "separators") {
        case nil, .none?: break
        case .list(let parts)?, .tuple(let parts)?:
            guard parts.count == 2, case .string(let item) = parts[0], case .string(let key) = parts[1] else {
                throw .runtime("tojson separators must be a pair of strings", line: line)
            }
            (itemSeparator, keySeparator) = (item, key)
        case let other?: throw .runtime("tojson separators must be a pair of strings, not \(other.typeName)", line: line)
        }
        if let value = arguments.get(3, "sort_keys") { sortKeys = value.isTruthy }
    }

    func encode(_ value: JinjaValue, line: Int) throws(TemplateError) -> String {
        var out = ""
        try write(value, level: 0, into: &out, line: line)
        return out
    }

    private func write(_ value: JinjaValue, level: Int, into out: inout String, line: Int) throws(TemplateError) {
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else {
                out += JinjaValue.pythonFloat(d)
            }
        case .string(let s): writeString(s, into: &out)
        case .list(let items), .tuple(let items):
            guard !items.isEmpty else {
                out += "[]"
                return
            }
            out += "["
            for (index, item) in items.enumerated() {
                out += index == 0 ? newline(level + 1) : itemSeparator + newline(level + 1)
                try write(item, level: level + 1, into: &out, line: line)
            }
            out += newline(level) + "]"
        case .dict(let dict):
            try writeObject(dict, level: level, into: &out, line: line)
        case .namespace, .undefined, .loop, .function:
            throw .runtime("Object of type \(value.typeName) is not JSON serializable", line: line)
        }
    }

    private func writeObject(_ dict: JinjaDict, level: Int, into out: inout String, line: Int) throws(TemplateError) {
        guard dict.count > 0 else {
            out += "{}"
            return
        }
        var pairs = dict.pairs
        if sortKeys {
            pairs.sort { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
        }
        out += "{"
        for (index, pair) in pairs.enumerated() {
            out += index == 0 ? newline(level + 1) : itemSeparator + newline(level + 1)
            writeString(pair.key, into: &out)
            out += keySeparator
            try write(pair.value, level: level + 1, into: &out, line: line)
        }
        out += newline(level) + "}"
    }

    private func newline(_ level: Int) -> String {
        guard let indent else { return "" }
        return "\n" + String(repeating: indent, count: level)
    }

    private func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    out += Self.unicodeEscape(scalar.value)
                } else if ensureASCII && scalar.value > 0x7E {
                    if scalar.value > 0xFFFF {
                        // UTF-16 surrogate pair, as json.dumps writes it.
                        let v = scalar.value - 0x10000
                        out += Self.unicodeEscape(0xD800 + (v >> 10)) + Self.unicodeEscape(0xDC00 + (v & 0x3FF))
                    } else if scalar.value == 0x7F {
                        out.unicodeScalars.append(scalar)
                    } else {
                        out += Self.unicodeEscape(scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
