/// Python methods templates call on values: `str` methods, the read-only
/// `dict` methods, and `loop.cycle`. Mutating methods (`list.append`,
/// `dict.update`) are refused, as HF's ImmutableSandboxedEnvironment does.
extension JinjaRenderer {
    func callMethod(_ receiver: JinjaValue, _ name: String, _ args: JinjaCallArguments, line: Int) throws(TemplateError) -> JinjaValue {
        switch receiver {
        case .string(let s):
            return try stringMethod(s, name, args, line: line)
        case .dict(let dict):
            switch name {
            case "items": return .list(dict.pairs.map { .tuple([.string($0.key), $0.value]) })
            case "keys": return .list(dict.keys.map(JinjaValue.string))
            case "values": return .list(dict.pairs.map(\.value))
            case "get":
                guard case .string(let key)? = args.get(0, "key") else { return args.get(1, "default") ?? .none }
                return dict[key] ?? args.get(1, "default") ?? .none
            default: break
            }
        case .loop(let loop):
            if name == "cycle" {
                guard !args.positional.isEmpty else { throw .runtime("no items for cycling given", line: line) }
                return args.positional[loop.index0 % args.positional.count]
            }
        default: break
        }
        // An attribute holding a function, e.g. a namespace member: call it.
        if case .function(let builtin) = JinjaOperators.attribute(receiver, name) {
            return try callBuiltin(builtin, args, line: line)
        }
        throw .unsupported("method '\(name)' on \(receiver.typeName)", line: line)
    }

    private func stringMethod(_ s: String, _ name: String, _ args: JinjaCallArguments, line: Int) throws(TemplateError) -> JinjaValue {
        func stringArgument(_ position: Int, _ argName: String) throws(TemplateError) -> String? {
            guard let value = args.get(position, argName) else { return nil }
            switch value {
            case .none: return nil
            case .string(let text): return text
            default: throw .runtime("\(name)() argument must be str or None, not \(value.typeName)", line: line)
            }
        }
        func intArgument(_ position: Int, _ argName: String, _ defaultValue: Int) -> Int {
            if case .int(let i)? = args.get(position, argName) { return i }
            return defaultValue
        }
        switch name {
        case "strip": return .string(PythonString.strip(s, chars: try stringArgument(0, "chars")))
        case "lstrip": return .string(PythonString.strip(s, chars: try stringArgument(0, "chars"), trailing: false))
        case "rstrip": return .string(PythonString.strip(s, chars: try stringArgument(0, "chars"), leading: false))
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "title": return .string(PythonString.title(s))
        case "capitalize": return .string(PythonString.capitalize(s))
        case "startswith", "endswith":
            let candidates: [JinjaValue]
            switch args.get(0, "prefix") {
            case .tuple(let items)?: candidates = items
            case let value?: candidates = [value]
            case nil: throw .runtime("\(name)() takes at least 1 argument", line: line)
            }
            let scalars = PythonString.scalars(s)
            for candidate in candidates {
                guard case .string(let affix) = candidate else {
                    throw .runtime("\(name) first arg must be str or a tuple of str, not \(candidate.typeName)", line: line)
                }
                let pattern = PythonString.scalars(affix)
                let matches = name == "startswith" ? scalars.starts(with: pattern) : scalars.reversed().starts(with: pattern.reversed())
                if matches { return .bool(true) }
            }
            return .bool(false)
        case "split":
            let separator = try stringArgument(0, "sep")
            if separator == "" { throw .runtime("empty separator", line: line) }
            return .list(PythonString.split(s, separator: separator, maxSplit: intArgument(1, "maxsplit", -1)).map(JinjaValue.string))
        case "splitlines":
            return .list(PythonString.splitLines(s).map(JinjaValue.string))
        case "replace":
            guard let old = try stringArgument(0, "old"), let new = try stringArgument(1, "new") else {
                throw .runtime("replace() takes at least 2 arguments", line: line)
            }
            return .string(PythonString.replace(s, old, new, count: intArgument(2, "count", -1)))
        case "find":
            guard let needle = try stringArgument(0, "sub") else { throw .runtime("find() takes at least 1 argument", line: line) }
            return .int(PythonString.find(PythonString.scalars(s), PythonString.scalars(needle)) ?? -1)
        case "count":
            guard let needle = try stringArgument(0, "sub") else { throw .runtime("count() takes at least 1 argument", line: line) }
            return .int(PythonString.count(s, needle))
        case "join":
            guard let iterable = args.get(0, "iterable") else { throw .runtime("join() takes 1 argument", line: line) }
            var parts: [String] = []
            for item in try iterable.iterated(line: line) {
                guard case .string(let text) = item else {
                    throw .runtime("sequence item: expected str instance, \(item.typeName) found", line: line)
                }
                parts.append(text)
            }
            return .string(parts.joined(separator: s))
        case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(PythonString.isSpace))
        case "islower": return .bool(PythonString.isLower(s))
        case "isupper": return .bool(PythonString.isUpper(s))
        default: throw .unsupported("method '\(name)' on str", line: line)
        }
    }
}
