#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// jinja2's built-in filters that chat templates use, plus HF's `tojson`.
extension JinjaRenderer {
    func applyFilter(_ name: String, _ value: JinjaValue, _ args: JinjaCallArguments, line: Int) throws(TemplateError) -> JinjaValue {
        switch name {
        case "trim":
            let chars: String?
            if case .string(let c)? = args.get(0, "chars") { chars = c } else { chars = nil }
            return .string(PythonString.strip(value.asString, chars: chars))
        case "length", "count":
            return .int(try length(of: value, line: line))
        case "upper": return .string(value.asString.uppercased())
        case "lower": return .string(value.asString.lowercased())
        case "title": return .string(PythonString.jinjaTitle(value.asString))
        case "capitalize": return .string(PythonString.capitalize(value.asString))
        case "replace":
            guard case .string(let old)? = args.get(0, "old"), let new = args.get(1, "new")?.asString else {
                throw .runtime("replace filter needs old and new strings", line: line)
            }
            var count = -1
            if case .int(let c)? = args.get(2, "count") { count = c }
            return .string(PythonString.replace(value.asString, old, new, count: count))
        case "string": return .string(value.asString)
        case "safe": return value
        case "escape", "e": return .string(Self.htmlEscaped(value.asString))
        case "tojson":
            return .string(try PythonJSONEncoder(arguments: args, line: line).encode(value, line: line))
        case "int": return Self.toInt(value, default: args.get(0, "default") ?? .int(0))
        case "float": return Self.toFloat(value, default: args.get(0, "default") ?? .double(0))
        case "abs":
            switch value {
            case .int(let i) where i != Int.min: return .int(abs(i))
            case .double(let d): return .double(abs(d))
            case .bool(let b): return .int(b ? 1 : 0)
            default: throw .runtime("bad operand type for abs(): '\(value.typeName)'", line: line)
            }
        case "round": return try Self.round(value, args, line: line)
        case "default", "d":
            let fallback = args.get(0, "default_value") ?? .string("")
            let boolean = args.get(1, "boolean")?.isTruthy ?? false
            return value.isUndefined || (boolean && !value.isTruthy) ? fallback : value
        case "list": return .list(try value.iterated(line: line))
        case "first": return try value.iterated(line: line).first ?? .undefined("no first item, sequence was empty")
        case "last": return try value.iterated(line: line).last ?? .undefined("no last item, sequence was empty")
        case "reverse":
            if case .string(let s) = value { return .string(PythonString.string(s.unicodeScalars.reversed())) }
            return .list(try value.iterated(line: line).reversed())
        case "join":
            var items = try value.iterated(line: line)
            if let attribute = args.get(1, "attribute") { items = try items.map { (item) throws(TemplateError) in try Self.attributePath(item, attribute, line: line) } }
            return .string(items.map(\.asString).joined(separator: args.get(0, "d")?.asString ?? ""))
        case "items":
            switch value {
            case .undefined: return .list([])
            case .dict(let dict): return .list(dict.pairs.map { .tuple([.string($0.key), $0.value]) })
            default: throw .runtime("Can only get item pairs from a mapping.", line: line)
            }
        case "dictsort":
            guard case .dict(let dict) = value else { throw .runtime("You can only sort by either 'key' or 'value'", line: line) }
            let byValue = args.get(1, "by")?.asString == "value"
            let pairs = dict.pairs.map { JinjaValue.tuple([.string($0.key), $0.value]) }
            let sorted = try sortValues(pairs, caseSensitive: args.get(0, "case_sensitive")?.isTruthy ?? false, line: line) {
                (pair) throws(TemplateError) in
                guard case .tuple(let kv) = pair else { return pair }
                return byValue ? kv[1] : kv[0]
            }
            return .list(args.get(2, "reverse")?.isTruthy ?? false ? sorted.reversed() : sorted)
        case "sort":
            let attribute = args.get(2, "attribute")
            let sorted = try sortValues(try value.iterated(line: line), caseSensitive: args.get(1, "case_sensitive")?.isTruthy ?? false,
                                        line: line) { (item) throws(TemplateError) in
                try attribute.map { (name) throws(TemplateError) in try Self.attributePath(item, name, line: line) } ?? item
            }
            return .list(args.get(0, "reverse")?.isTruthy ?? false ? sorted.reversed() : sorted)
        case "unique":
            let caseSensitive = args.get(0, "case_sensitive")?.isTruthy ?? false
            let attribute = args.get(1, "attribute")
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for item in try value.iterated(line: line) {
                var key = try attribute.map { (name) throws(TemplateError) in try Self.attributePath(item, name, line: line) } ?? item
                if !caseSensitive, case .string(let s) = key { key = .string(s.lowercased()) }
                if !seen.contains(where: { JinjaOperators.equal($0, key) }) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .list(out)
        case "min", "max":
            let caseSensitive = args.get(0, "case_sensitive")?.isTruthy ?? false
            let attribute = args.get(1, "attribute")
            let sorted = try sortValues(try value.iterated(line: line), caseSensitive: caseSensitive, line: line) {
                (item) throws(TemplateError) in
                try attribute.map { (name) throws(TemplateError) in try Self.attributePath(item, name, line: line) } ?? item
            }
            return (name == "min" ? sorted.first : sorted.last) ?? .undefined("no \(name) item, sequence was empty")
        case "sum":
            var total = args.get(1, "start") ?? .int(0)
            for item in try value.iterated(line: line) {
                let term = try args.get(0, "attribute").map { (name) throws(TemplateError) in try Self.attributePath(item, name, line: line) } ?? item
                total = try JinjaOperators.binary(.add, total, term, line: line)
            }
            return total
        case "attr":
            guard case .string(let attribute)? = args.get(0, "name") else { throw .runtime("attr filter needs a name", line: line) }
            return JinjaOperators.attribute(value, attribute)
        case "map":
            return .list(try mapItems(try value.iterated(line: line), args, line: line))
        case "select", "reject":
            return .list(try filterItems(try value.iterated(line: line), attribute: nil, args.positional, keep: name == "select", line: line))
        case "selectattr", "rejectattr":
            guard let attribute = args.positional.first else { throw .runtime("\(name) needs an attribute name", line: line) }
            return .list(try filterItems(try value.iterated(line: line), attribute: attribute, Array(args.positional.dropFirst()),
                                         keep: name == "selectattr", line: line))
        case "indent": return .string(try Self.indent(value.asString, args, line: line))
        default:
            throw .unknownFilter(name, line: line)
        }
    }

    func length(of value: JinjaValue, line: Int) throws(TemplateError) -> Int {
        switch value {
        case .undefined: return 0
        case .string(let s): return PythonString.length(s)
        case .list(let items), .tuple(let items): return items.count
        case .dict(let dict): return dict.count
        case .namespace(let ns): return ns.attributes.count
        default: throw .runtime("object of type '\(value.typeName)' has no len()", line: line)
        }
    }

    /// `select`/`reject`/`selectattr`/`rejectattr`: keep items whose test
    /// (or plain truthiness without a test name) equals `keep`.
    private func filterItems(_ items: [JinjaValue], attribute: JinjaValue?, _ testArgs: [JinjaValue], keep: Bool, line: Int) throws(TemplateError) -> [JinjaValue] {
        var out: [JinjaValue] = []
        for item in items {
            let subject = try attribute.map { (name) throws(TemplateError) in try Self.attributePath(item, name, line: line) } ?? item
            let passed: Bool
            if let testName = testArgs.first {
                guard case .string(let name) = testName else { throw .runtime("test name must be a string", line: line) }
                passed = try applyTest(name, subject, JinjaCallArguments(positional: Array(testArgs.dropFirst())), line: line)
            } else {
                passed = subject.isTruthy
            }
            if passed == keep { out.append(item) }
        }
        return out
    }

    /// `map(attribute='x', default=...)` or `map('filter', args...)`.
    private func mapItems(_ items: [JinjaValue], _ args: JinjaCallArguments, line: Int) throws(TemplateError) -> [JinjaValue] {
        if let attribute = args.keyword.first(where: { $0.name == "attribute" })?.value {
            let fallback = args.keyword.first(where: { $0.name == "default" })?.value
            return try items.map { (item) throws(TemplateError) in
                let found = try Self.attributePath(item, attribute, line: line)
                return found.isUndefined ? (fallback ?? found) : found
            }
        }
        guard case .string(let filterName)? = args.positional.first else {
            throw .runtime("map needs a filter name or attribute=", line: line)
        }
        let rest = JinjaCallArguments(positional: Array(args.positional.dropFirst()), keyword: args.keyword)
        return try items.map { (item) throws(TemplateError) in try applyFilter(filterName, item, rest, line: line) }
    }

    /// Sorts by a key; strings compare case-insensitively unless asked, as jinja2 does.
    private func sortValues(_ items: [JinjaValue], caseSensitive: Bool, line: Int,
                            key: (JinjaValue) throws(TemplateError) -> JinjaValue) throws(TemplateError) -> [JinjaValue] {
        var keyed: [(key: JinjaValue, item: JinjaValue)] = []
        for item in items {
            var k = try key(item)
            if !caseSensitive, case .string(let s) = k { k = .string(s.lowercased()) }
            keyed.append((k, item))
        }
        // Check comparability up front: the sort closure cannot throw.
        for pair in keyed.dropFirst() { _ = try JinjaOperators.compare(.less, keyed[0].key, pair.key, line: line) }
        return keyed.enumerated().sorted { a, b in
            let aLess = (try? JinjaOperators.compare(.less, a.element.key, b.element.key, line: line)) ?? false
            let bLess = (try? JinjaOperators.compare(.less, b.element.key, a.element.key, line: line)) ?? false
            return aLess || (!bLess && a.offset < b.offset)
        }.map(\.element.item)
    }

    /// jinja2's attribute getter: `"a.b"` walks items/attributes, digits index lists.
    static func attributePath(_ value: JinjaValue, _ path: JinjaValue, line: Int) throws(TemplateError) -> JinjaValue {
        guard case .string(let text) = path else {
            if case .int = path { return try JinjaOperators.item(value, path, line: line) }
            throw .runtime("attribute name must be a string", line: line)
        }
        var current = value
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            if current.isUndefined { return current }
            current = try JinjaOperators.item(current, Int(part).map(JinjaValue.int) ?? .string(String(part)), line: line)
        }
        return current
    }

    private static func toInt(_ value: JinjaValue, default fallback: JinjaValue) -> JinjaValue {
        switch value {
        case .int: return value
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d): return d.isFinite && abs(d) < 9.2e18 ? .int(Int(d)) : fallback
        case .string(let s):
            let text = PythonString.replace(PythonString.strip(s), "_", "")
            if let i = Int(text) { return .int(i) }
            if case .double(let d) = toFloat(value, default: .none), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
            return fallback
        default: return fallback
        }
    }

    private static func toFloat(_ value: JinjaValue, default fallback: JinjaValue) -> JinjaValue {
        switch value {
        case .double: return value
        case .int(let i): return .double(Double(i))
        case .bool(let b): return .double(b ? 1 : 0)
        case .string(let s):
            let text = PythonString.strip(s).lowercased()
            switch text {
            case "inf", "+inf", "infinity", "+infinity": return .double(.infinity)
            case "-inf", "-infinity": return .double(-.infinity)
            case "nan", "+nan", "-nan": return .double(.nan)
            default:
                // Python's float() takes decimal text only (Swift would also read hex).
                let decimal = text.unicodeScalars.allSatisfy { "0123456789+-.e_".unicodeScalars.contains($0) }
                return decimal ? Double(PythonString.replace(text, "_", "")).map(JinjaValue.double) ?? fallback : fallback
            }
        default: return fallback
        }
    }

    /// jinja2's round: 'common' is Python's round() (ties to even),
    /// 'ceil'/'floor' always give a float.
    private static func round(_ value: JinjaValue, _ args: JinjaCallArguments, line: Int) throws(TemplateError) -> JinjaValue {
        var precision = 0
        if case .int(let p)? = args.get(0, "precision") { precision = p }
        let method = args.get(1, "method")?.asString ?? "common"
        guard ["common", "ceil", "floor"].contains(method) else {
            throw .runtime("method must be 'common', 'ceil' or 'floor'", line: line)
        }
        let x: Double
        switch value {
        case .int(let i):
            if method == "common" && precision >= 0 { return value }
            x = Double(i)
        case .double(let d): x = d
        case .bool(let b): x = b ? 1 : 0
        default: throw .runtime("type \(value.typeName) doesn't define __round__ method", line: line)
        }
        let scale = pow(10.0, Double(precision))
        switch method {
        case "ceil": return .double((x * scale).rounded(.up) / scale)
        case "floor": return .double((x * scale).rounded(.down) / scale)
        default: return .double((x * scale).rounded(.toNearestOrEven) / scale)
        }
    }

    private static func indent(_ s: String, _ args: JinjaCallArguments, line: Int) throws(TemplateError) -> String {
        let indentation: String
        switch args.get(0, "width") {
        case .string(let text)?: indentation = text
        case .int(let n)?: indentation = String(repeating: " ", count: max(n, 0))
        default: indentation = "    "
        }
        let first = args.get(1, "first")?.isTruthy ?? false
        let blank = args.get(2, "blank")?.isTruthy ?? false
        var lines = PythonString.splitLines(s + "\n")
        var result: String
        if blank {
            result = lines.joined(separator: "\n" + indentation)
        } else {
            result = lines.isEmpty ? "" : lines.removeFirst()
            if !lines.isEmpty {
                result += "\n" + lines.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
            }
        }
        return first ? indentation + result : result
    }

    private static func htmlEscaped(_ s: String) -> String {
        var out = ""
        for character in s.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
