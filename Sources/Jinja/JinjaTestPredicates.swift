/// jinja2's `is` tests (`x is defined`, `x is not none`, `n is divisibleby 3`).
extension JinjaRenderer {
    func applyTest(_ name: String, _ value: JinjaValue, _ args: JinjaCallArguments, line: Int) throws(TemplateError) -> Bool {
        func argument() throws(TemplateError) -> JinjaValue {
            guard let first = args.positional.first ?? args.keyword.first?.value else {
                throw .runtime("test '\(name)' needs an argument", line: line)
            }
            return first
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": if case .none = value { return true } else { return false }
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "number":
            switch value {
            case .int, .double, .bool: return true
            default: return false
            }
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .dict = value { return true } else { return false }
        case "iterable":
            // Python's iter() accepts strings, and jinja2's Undefined too.
            switch value {
            case .undefined, .string, .list, .tuple, .dict, .loop: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .undefined, .string, .list, .tuple, .dict: return true
            default: return false
            }
        case "callable": if case .function = value { return true } else { return false }
        case "odd", "even":
            guard case .int(let i) = value else { throw .runtime("test '\(name)' needs an integer", line: line) }
            return (i & 1 == 1) == (name == "odd")
        case "divisibleby":
            let remainder = try JinjaOperators.binary(.modulo, value, try argument(), line: line)
            return JinjaOperators.equal(remainder, .int(0))
        case "eq", "equalto", "==": return JinjaOperators.equal(value, try argument())
        case "ne", "!=": return !JinjaOperators.equal(value, try argument())
        case "lt", "lessthan", "<": return try JinjaOperators.compare(.less, value, try argument(), line: line)
        case "le", "<=": return try JinjaOperators.compare(.lessEqual, value, try argument(), line: line)
        case "gt", "greaterthan", ">": return try JinjaOperators.compare(.greater, value, try argument(), line: line)
        case "ge", ">=": return try JinjaOperators.compare(.greaterEqual, value, try argument(), line: line)
        case "in": return try JinjaOperators.contains(try argument(), value, line: line)
        case "sameas": return Self.isSameObject(value, try argument())
        case "lower": return PythonString.isLower(value.asString)
        case "upper": return PythonString.isUpper(value.asString)
        default: throw .unknownTest(name, line: line)
        }
    }

    /// Python's `is`: singletons, small cached ints, and shared namespaces.
    private static func isSameObject(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
        switch (a, b) {
        case (.none, .none): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y && (-5...256).contains(x)
        case let (.namespace(x), .namespace(y)): return x === y
        default: return false
        }
    }
}
