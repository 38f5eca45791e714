#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Python semantics of operators, comparisons, indexing and slicing.
enum JinjaOperators {
    /// A number as Python sees it (bool is an int there).
    private enum Number {
        case int(Int), double(Double)
        var double: Double {
            switch self {
            case .int(let i): return Double(i)
            case .double(let d): return d
            }
        }
    }

    private static func number(_ value: JinjaValue) -> Number? {
        switch value {
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        case .double(let d): return .double(d)
        default: return nil
        }
    }

    // MARK: equality and ordering

    static func equal(_ lhs: JinjaValue, _ rhs: JinjaValue) -> Bool {
        if let a = number(lhs), let b = number(rhs) {
            if case .int(let x) = a, case .int(let y) = b { return x == y }
            return a.double == b.double
        }
        switch (lhs, rhs) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(a), .string(b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case let (.dict(a), .dict(b)):
            // Python dict equality ignores order.
            return a.count == b.count && a.pairs.allSatisfy { pair in b[pair.key].map { equal(pair.value, $0) } ?? false }
        case let (.namespace(a), .namespace(b)): return a === b
        case let (.function(a), .function(b)): return a == b
        default: return false
        }
    }

    /// Python's `<`, or nil where Python raises TypeError.
    private static func less(_ lhs: JinjaValue, _ rhs: JinjaValue) -> Bool? {
        if let a = number(lhs), let b = number(rhs) {
            if case .int(let x) = a, case .int(let y) = b { return x < y }
            return a.double < b.double
        }
        switch (lhs, rhs) {
        case let (.string(a), .string(b)):
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)):
            for (x, y) in zip(a, b) where !equal(x, y) { return less(x, y) }
            return a.count < b.count
        default: return nil
        }
    }

    static func compare(_ op: JinjaCompareOperator, _ lhs: JinjaValue, _ rhs: JinjaValue, line: Int) throws(TemplateError) -> Bool {
        switch op {
        case .equal: return equal(lhs, rhs)
        case .notEqual: return !equal(lhs, rhs)
        case .isIn: return try contains(rhs, lhs, line: line)
        case .notIn: return try !contains(rhs, lhs, line: line)
        case .less, .lessEqual, .greater, .greaterEqual:
            let (a, b) = op == .less || op == .lessEqual ? (lhs, rhs) : (rhs, lhs)
            if op == .lessEqual || op == .greaterEqual, equal(a, b), number(a) != nil || isSequence(a) || isString(a) {
                return true
            }
            if case .undefined(let message) = lhs { throw .runtime(message, line: line) }
            if case .undefined(let message) = rhs { throw .runtime(message, line: line) }
            guard let result = less(a, b) else {
                throw .runtime("'\(op.rawValue)' not supported between instances of '\(lhs.typeName)' and '\(rhs.typeName)'",
                               line: line)
            }
            return result
        }
    }

    private static func isSequence(_ value: JinjaValue) -> Bool {
        switch value {
        case .list, .tuple: return true
        default: return false
        }
    }

    private static func isString(_ value: JinjaValue) -> Bool {
        if case .string = value { return true }
        return false
    }

    /// Python's `needle in container`.
    static func contains(_ container: JinjaValue, _ needle: JinjaValue, line: Int) throws(TemplateError) -> Bool {
        switch container {
        case .undefined: return false
        case .string(let s):
            guard case .string(let n) = needle else {
                throw .runtime("'in <string>' requires string as left operand, not \(needle.typeName)", line: line)
            }
            return PythonString.find(PythonString.scalars(s), PythonString.scalars(n)) != nil
        case .list(let items), .tuple(let items): return items.contains { equal($0, needle) }
        case .dict(let dict):
            guard case .string(let key) = needle else { return false }
            return dict[key] != nil
        case .namespace(let ns):
            guard case .string(let key) = needle else { return false }
            return ns.attributes[key] != nil
        default:
            throw .runtime("argument of type '\(container.typeName)' is not iterable", line: line)
        }
    }

    // MARK: arithmetic

    static func binary(_ op: JinjaBinaryOperator, _ lhs: JinjaValue, _ rhs: JinjaValue, line: Int) throws(TemplateError) -> JinjaValue {
        if op == .concat { return .string(lhs.asString + rhs.asString) }
        if case .undefined(let message) = lhs { throw .runtime(message, line: line) }
        if case .undefined(let message) = rhs { throw .runtime(message, line: line) }
        if let a = number(lhs), let b = number(rhs) { return try arithmetic(op, a, b, line: line) }
        switch (op, lhs, rhs) {
        case let (.add, .string(a), .string(b)): return .string(a + b)
        case let (.add, .list(a), .list(b)): return .list(a + b)
        case let (.add, .tuple(a), .tuple(b)): return .tuple(a + b)
        case (.multiply, .string, _), (.multiply, .list, _), (.multiply, .tuple, _): return try repeated(lhs, rhs, line: line)
        case (.multiply, _, .string), (.multiply, _, .list), (.multiply, _, .tuple): return try repeated(rhs, lhs, line: line)
        case (.modulo, .string, _): throw .unsupported("'%' string formatting", line: line)
        default:
            if op == .add, case .string = lhs {
                throw .runtime("can only concatenate str (not \"\(rhs.typeName)\") to str", line: line)
            }
            throw .runtime("unsupported operand type(s) for \(op.rawValue): '\(lhs.typeName)' and '\(rhs.typeName)'",
                           line: line)
        }
    }

    private static func repeated(_ sequence: JinjaValue, _ times: JinjaValue, line: Int) throws(TemplateError) -> JinjaValue {
        guard let count = number(times), case .int(let n) = count else {
            throw .runtime("can't multiply sequence by non-int of type '\(times.typeName)'", line: line)
        }
        let n2 = max(n, 0)
        switch sequence {
        case .string(let s): return .string(String(repeating: s, count: n2))
        case .list(let items): return .list(Array([[JinjaValue]](repeating: items, count: n2).joined()))
        case .tuple(let items): return .tuple(Array([[JinjaValue]](repeating: items, count: n2).joined()))
        default: throw .runtime("cannot repeat '\(sequence.typeName)'", line: line)
        }
    }

    private static func arithmetic(_ op: JinjaBinaryOperator, _ a: Number, _ b: Number, line: Int) throws(TemplateError) -> JinjaValue {
        if case .int(let x) = a, case .int(let y) = b {
            return try integerArithmetic(op, x, y, line: line)
        }
        let x = a.double
        let y = b.double
        switch op {
        case .add: return .double(x + y)
        case .subtract: return .double(x - y)
        case .multiply: return .double(x * y)
        case .divide:
            guard y != 0 else { throw .runtime("float division by zero", line: line) }
            return .double(x / y)
        case .floorDivide:
            guard y != 0 else { throw .runtime("float floor division by zero", line: line) }
            return .double((x / y).rounded(.down))
        case .modulo:
            guard y != 0 else { throw .runtime("float modulo", line: line) }
            let r = x.truncatingRemainder(dividingBy: y)
            return .double(r != 0 && (r < 0) != (y < 0) ? r + y : r)
        case .power: return .double(pow(x, y))
        case .concat: return .string(JinjaValue.double(x).asString + JinjaValue.double(y).asString)
        }
    }

    private static func integerArithmetic(_ op: JinjaBinaryOperator, _ x: Int, _ y: Int, line: Int) throws(TemplateError) -> JinjaValue {
        func checked(_ result: (partialValue: Int, overflow: Bool)) throws(TemplateError) -> JinjaValue {
            guard !result.overflow else { throw .runtime("integer overflow", line: line) }
            return .int(result.partialValue)
        }
        switch op {
        case .add: return try checked(x.addingReportingOverflow(y))
        case .subtract: return try checked(x.subtractingReportingOverflow(y))
        case .multiply: return try checked(x.multipliedReportingOverflow(by: y))
        case .divide:
            guard y != 0 else { throw .runtime("division by zero", line: line) }
            return .double(Double(x) / Double(y))
        case .floorDivide, .modulo:
            guard y != 0 else { throw .runtime("integer division or modulo by zero", line: line) }
            // Python floors; Swift truncates toward zero.
            var q = x / y
            var r = x % y
            if r != 0 && (r < 0) != (y < 0) {
                q -= 1
                r += y
            }
            return .int(op == .floorDivide ? q : r)
        case .power:
            if y < 0 { return .double(pow(Double(x), Double(y))) }
            var result = 1
            for _ in 0..<y {
                let (next, overflow) = result.multipliedReportingOverflow(by: x)
                guard !overflow else { throw .runtime("integer overflow", line: line) }
                result = next
            }
            return .int(result)
        case .concat: return .string(String(x) + String(y))
        }
    }

    static func negate(_ value: JinjaValue, line: Int) throws(TemplateError) -> JinjaValue {
        switch value {
        case .int(let i):
            guard i != Int.min else { throw .runtime("integer overflow", line: line) }
            return .int(-i)
        case .bool(let b): return .int(b ? -1 : 0)
        case .double(let d): return .double(-d)
        case .undefined(let message): throw .runtime(message, line: line)
        default: throw .runtime("bad operand type for unary -: '\(value.typeName)'", line: line)
        }
    }

    // MARK: indexing

    /// `container[index]`; misses give undefined, as jinja2's getitem does.
    static func item(_ container: JinjaValue, _ index: JinjaValue, line: Int) throws(TemplateError) -> JinjaValue {
        switch (container, index) {
        case (.undefined(let message), _): throw .runtime(message, line: line)
        case let (.list(items), _), let (.tuple(items), _):
            guard let i = intIndex(index), let at = normalized(i, count: items.count) else { break }
            return items[at]
        case let (.string(s), _):
            let scalars = PythonString.scalars(s)
            guard let i = intIndex(index), let at = normalized(i, count: scalars.count) else { break }
            return .string(String(scalars[at]))
        case let (.dict(dict), .string(key)):
            if let value = dict[key] { return value }
            return .undefined("'dict object' has no attribute '\(key)'")
        case let (.namespace, .string(key)), let (.loop, .string(key)):
            return attribute(container, key)
        default: break
        }
        return .undefined("'\(container.typeName) object' has no attribute \(index.repr)")
    }

    /// `value.name`: dict keys, namespace attributes and loop fields.
    static func attribute(_ value: JinjaValue, _ name: String) -> JinjaValue {
        switch value {
        case .dict(let dict): if let found = dict[name] { return found }
        case .namespace(let ns): if let found = ns.attributes[name] { return found }
        case .loop(let loop): if let found = loop.attribute(name) { return found }
        default: break
        }
        return .undefined("'\(value.typeName) object' has no attribute '\(name)'")
    }

    private static func intIndex(_ value: JinjaValue) -> Int? {
        switch value {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    private static func normalized(_ index: Int, count: Int) -> Int? {
        let at = index < 0 ? index + count : index
        return at >= 0 && at < count ? at : nil
    }

    /// Python slicing `value[start:stop:step]`.
    static func slice(_ value: JinjaValue, start: JinjaValue?, stop: JinjaValue?, step: JinjaValue?, line: Int) throws(TemplateError) -> JinjaValue {
        func bound(_ v: JinjaValue?) throws(TemplateError) -> Int? {
            guard let v else { return nil }
            switch v {
            case .none: return nil
            case .int(let i): return i
            case .bool(let b): return b ? 1 : 0
            default: throw .runtime("slice indices must be integers or None", line: line)
            }
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw .runtime("slice step cannot be zero", line: line) }
        let startValue = try bound(start)
        let stopValue = try bound(stop)
        func indices(count: Int) -> [Int] {
            func clamp(_ i: Int?, _ defaultValue: Int) -> Int {
                guard let i else { return defaultValue }
                let at = i < 0 ? i + count : i
                return stepValue > 0 ? min(max(at, 0), count) : min(max(at, -1), count - 1)
            }
            let from = clamp(startValue, stepValue > 0 ? 0 : count - 1)
            let to = clamp(stopValue, stepValue > 0 ? count : -1)
            return Array(stride(from: from, to: to, by: stepValue))
        }
        switch value {
        case .undefined(let message): throw .runtime(message, line: line)
        case .list(let items): return .list(indices(count: items.count).map { items[$0] })
        case .tuple(let items): return .tuple(indices(count: items.count).map { items[$0] })
        case .string(let s):
            let scalars = PythonString.scalars(s)
            return .string(PythonString.string(indices(count: scalars.count).map { scalars[$0] }))
        default: throw .runtime("'\(value.typeName)' object is not subscriptable", line: line)
        }
    }
}
