import Foundation
import Jinja

/// Loads Tests/Fixtures/templates (made by reference/make_template_goldens.py).
enum TemplateFixtures {
    static let directory: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("Fixtures/templates")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        fatalError("Tests/Fixtures/templates not found above \(#filePath)")
    }()

    static func text(_ name: String) -> String {
        let url = directory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else { fatalError("missing fixture \(url.path)") }
        return String(decoding: data, as: UTF8.self)
    }

    /// The `cases` array of a fixture JSON file.
    static func cases(_ file: String) -> [TemplateValue] {
        var parser = OrderedJSONParser(text(file))
        guard case .object(let root)? = try? parser.parse(),
            case .array(let cases)? = root.first(where: { $0.0 == "cases" })?.1
        else { fatalError("\(file) has no cases") }
        return cases
    }
}

extension TemplateValue {
    subscript(key: String) -> TemplateValue {
        guard case .object(let pairs) = self else { return .undefined }
        return pairs.first { $0.0 == key }?.1 ?? .undefined
    }

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// A small JSON parser that keeps object key order and tells booleans from
/// numbers (Foundation's JSONSerialization does neither reliably on Linux);
/// `tojson` goldens depend on both.
struct OrderedJSONParser {
    struct Failure: Error {}
    private let scalars: [Unicode.Scalar]
    private var pos = 0

    init(_ text: String) { scalars = Array(text.unicodeScalars) }

    mutating func parse() throws -> TemplateValue {
        let value = try parseValue()
        skipSpace()
        guard pos == scalars.count else { throw Failure() }
        return value
    }

    private mutating func skipSpace() {
        while pos < scalars.count, " \n\r\t".unicodeScalars.contains(scalars[pos]) { pos += 1 }
    }

    private mutating func parseValue() throws -> TemplateValue {
        skipSpace()
        guard pos < scalars.count else { throw Failure() }
        switch scalars[pos] {
        case "{":
            pos += 1
            var pairs: [(String, TemplateValue)] = []
            skipSpace()
            if scalars[pos] == "}" { pos += 1; return .object(pairs) }
            while true {
                skipSpace()
                let key = try parseString()
                skipSpace()
                guard scalars[pos] == ":" else { throw Failure() }
                pos += 1
                pairs.append((key, try parseValue()))
                skipSpace()
                if scalars[pos] == "," { pos += 1; continue }
                guard scalars[pos] == "}" else { throw Failure() }
                pos += 1
                return .object(pairs)
            }
        case "[":
            pos += 1
            var items: [TemplateValue] = []
            skipSpace()
            if scalars[pos] == "]" { pos += 1; return .array(items) }
            while true {
                items.append(try parseValue())
                skipSpace()
                if scalars[pos] == "," { pos += 1; continue }
                guard scalars[pos] == "]" else { throw Failure() }
                pos += 1
                return .array(items)
            }
        case "\"": return .string(try parseString())
        case "t": pos += 4; return .bool(true)
        case "f": pos += 5; return .bool(false)
        case "n": pos += 4; return .none
        default:
            let start = pos
            while pos < scalars.count, "+-0123456789.eE".unicodeScalars.contains(scalars[pos]) { pos += 1 }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: scalars[start..<pos])
            let number = String(text)
            if let i = Int(number) { return .int(i) }
            guard let d = Double(number) else { throw Failure() }
            return .double(d)
        }
    }

    private mutating func parseString() throws -> String {
        guard scalars[pos] == "\"" else { throw Failure() }
        pos += 1
        var out = String.UnicodeScalarView()
        var pendingHighSurrogate: UInt32? = nil
        while scalars[pos] != "\"" {
            var scalar = scalars[pos]
            pos += 1
            if scalar == "\\" {
                let code = scalars[pos]
                pos += 1
                switch code {
                case "n": scalar = "\n"
                case "t": scalar = "\t"
                case "r": scalar = "\r"
                case "b": scalar = "\u{08}"
                case "f": scalar = "\u{0C}"
                case "u":
                    var hex = String.UnicodeScalarView()
                    hex.append(contentsOf: scalars[pos..<(pos + 4)])
                    pos += 4
                    guard let value = UInt32(String(hex), radix: 16) else { throw Failure() }
                    if (0xD800..<0xDC00).contains(value) {
                        pendingHighSurrogate = value
                        continue
                    }
                    if let high = pendingHighSurrogate, (0xDC00..<0xE000).contains(value) {
                        pendingHighSurrogate = nil
                        scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00))!
                    } else {
                        guard let s = Unicode.Scalar(value) else { throw Failure() }
                        scalar = s
                    }
                default: scalar = code
                }
            }
            out.append(scalar)
        }
        pos += 1
        return String(out)
    }
}
