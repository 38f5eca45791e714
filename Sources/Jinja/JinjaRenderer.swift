/// Executes a parsed template once. Not shared between renders: it holds the
/// variable scopes of this render.
final class JinjaRenderer {
    /// Innermost last. Index 0 holds the globals and render arguments, 1 the
    /// template's own top-level `set`s; each for-loop iteration pushes one,
    /// so a `set` in a loop body is gone at the next iteration, as in jinja2.
    private var scopes: [[String: JinjaValue]]

    private enum Flow { case normal, breakLoop, continueLoop }

    init(variables: [String: JinjaValue]) {
        scopes = [variables, [:]]
    }

    func render(_ nodes: [JinjaNode]) throws(TemplateError) -> String {
        var out = ""
        _ = try execute(nodes, into: &out)
        return out
    }

    // MARK: statements

    private func execute(_ nodes: [JinjaNode], into out: inout String) throws(TemplateError) -> Flow {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .output(let expr):
                out += try evaluate(expr).asString
            case .ifChain(let branches, let otherwise):
                var chosen = otherwise
                for branch in branches where try evaluate(branch.condition).isTruthy {
                    chosen = branch.body
                    break
                }
                let flow = try execute(chosen, into: &out)
                if flow != .normal { return flow }
            case .forLoop(let loop):
                try executeFor(loop, into: &out)
            case .set(let target, let expr, let line):
                try assign(target, try evaluate(expr), line: line)
            case .setBlock(let target, let body, let line):
                var captured = ""
                _ = try execute(body, into: &captured)
                try assign(target, .string(captured), line: line)
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            case .generation(let body):
                let flow = try execute(body, into: &out)
                if flow != .normal { return flow }
            }
        }
        return .normal
    }

    private func executeFor(_ loop: JinjaForLoop, into out: inout String) throws(TemplateError) {
        var items = try evaluate(loop.iterable).iterated(line: loop.line)
        if let condition = loop.condition {
            // The filter runs before the loop, so loop.length counts only kept items.
            var kept: [JinjaValue] = []
            for item in items {
                scopes.append([:])
                defer { scopes.removeLast() }
                try assign(loop.target, item, line: loop.line)
                if try evaluate(condition).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try execute(loop.otherwise, into: &out)
            return
        }
        for (index, item) in items.enumerated() {
            scopes.append(["loop": .loop(JinjaLoopState(index0: index, items: items))])
            defer { scopes.removeLast() }
            try assign(loop.target, item, line: loop.line)
            if try execute(loop.body, into: &out) == .breakLoop { break }
        }
    }

    private func assign(_ target: JinjaAssignTarget, _ value: JinjaValue, line: Int) throws(TemplateError) {
        switch target {
        case .name(let name):
            scopes[scopes.count - 1][name] = value
        case .tuple(let targets):
            let items: [JinjaValue]
            switch value {
            case .list(let xs), .tuple(let xs): items = xs
            default: items = try value.iterated(line: line)
            }
            guard items.count == targets.count else {
                throw .runtime(items.count > targets.count
                               ? "too many values to unpack (expected \(targets.count))"
                               : "not enough values to unpack (expected \(targets.count), got \(items.count))",
                               line: line)
            }
            for (target, item) in zip(targets, items) { try assign(target, item, line: line) }
        case .namespaceAttribute(let name, let attribute):
            guard case .namespace(let ns) = lookup(name) else {
                throw .runtime("cannot assign attribute on non-namespace object '\(name)'", line: line)
            }
            ns.attributes[attribute] = value
        }
    }

    private func lookup(_ name: String) -> JinjaValue {
        for scope in scopes.reversed() {
            if let value = scope[name] { return value }
        }
        return .undefinedName(name)
    }

    // MARK: expressions

    func evaluate(_ expr: JinjaExpr) throws(TemplateError) -> JinjaValue {
        switch expr {
        case .literal(let literal):
            switch literal {
            case .none: return .none
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            }
        case .name(let name, _):
            return lookup(name)
        case .list(let items):
            var values: [JinjaValue] = []
            for item in items { values.append(try evaluate(item)) }
            return .list(values)
        case .tuple(let items):
            var values: [JinjaValue] = []
            for item in items { values.append(try evaluate(item)) }
            return .tuple(values)
        case .dict(let pairs):
            var dict = JinjaDict()
            for pair in pairs {
                let key = try evaluate(pair.key)
                guard case .string(let name) = key else {
                    throw .unsupported("dict key of type '\(key.typeName)'", line: Self.line(of: pair.key) ?? 0)
                }
                dict[name] = try evaluate(pair.value)
            }
            return .dict(dict)
        case .attribute(let target, let name, let line):
            let value = try evaluate(target)
            if case .undefined(let message) = value { throw .runtime(message, line: line) }
            return JinjaOperators.attribute(value, name)
        case .item(let target, let index, let line):
            return try JinjaOperators.item(try evaluate(target), try evaluate(index), line: line)
        case .slice(let target, let start, let stop, let step, let line):
            return try JinjaOperators.slice(try evaluate(target), start: try start.map(evaluate), stop: try stop.map(evaluate),
                                       step: try step.map(evaluate), line: line)
        case .call(let callee, let arguments, let line):
            return try evaluateCall(callee, arguments, line: line)
        case .filter(let target, let name, let arguments, let line):
            return try applyFilter(name, try evaluate(target), try evaluateArguments(arguments), line: line)
        case .test(let target, let name, let arguments, let negated, let line):
            let passed = try applyTest(name, try evaluate(target), try evaluateArguments(arguments), line: line)
            return .bool(passed != negated)
        case .unary(let op, let operand, let line):
            let value = try evaluate(operand)
            switch op {
            case .minus: return try JinjaOperators.negate(value, line: line)
            case .plus: return try JinjaOperators.negate(try JinjaOperators.negate(value, line: line), line: line)
            }
        case .binary(let op, let lhs, let rhs, let line):
            return try JinjaOperators.binary(op, try evaluate(lhs), try evaluate(rhs), line: line)
        case .compare(let first, let rest, let line):
            var left = try evaluate(first)
            for (op, operandExpr) in rest {
                let right = try evaluate(operandExpr)
                if !(try JinjaOperators.compare(op, left, right, line: line)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .and(let lhs, let rhs):
            let left = try evaluate(lhs)
            return left.isTruthy ? try evaluate(rhs) : left
        case .or(let lhs, let rhs):
            let left = try evaluate(lhs)
            return left.isTruthy ? left : try evaluate(rhs)
        case .not(let operand):
            return .bool(!(try evaluate(operand).isTruthy))
        case .conditional(let condition, let then, let otherwise):
            if try evaluate(condition).isTruthy { return try evaluate(then) }
            guard let otherwise else { return .undefined("the inline if-expression evaluated to false and no else section was defined") }
            return try evaluate(otherwise)
        }
    }

    private func evaluateArguments(_ arguments: JinjaArguments) throws(TemplateError) -> JinjaCallArguments {
        var result = JinjaCallArguments()
        for expr in arguments.positional { result.positional.append(try evaluate(expr)) }
        for (name, expr) in arguments.keyword { result.keyword.append((name, try evaluate(expr))) }
        return result
    }

    /// Method calls (`s.strip()`, `d.items()`, `loop.cycle(...)`) are resolved
    /// here by name; anything else must evaluate to a built-in function.
    private func evaluateCall(_ callee: JinjaExpr, _ arguments: JinjaArguments, line: Int) throws(TemplateError) -> JinjaValue {
        if case .attribute(let receiverExpr, let name, _) = callee {
            let receiver = try evaluate(receiverExpr)
            if case .undefined(let message) = receiver { throw .runtime(message, line: line) }
            return try callMethod(receiver, name, try evaluateArguments(arguments), line: line)
        }
        let function = try evaluate(callee)
        switch function {
        case .function(let builtin):
            return try callBuiltin(builtin, try evaluateArguments(arguments), line: line)
        case .undefined(let message):
            throw .runtime(message, line: line)
        default:
            throw .runtime("'\(function.typeName)' object is not callable", line: line)
        }
    }

    private static func line(of expr: JinjaExpr) -> Int? {
        switch expr {
        case .name(_, let line), .attribute(_, _, let line), .item(_, _, let line), .call(_, _, let line),
            .filter(_, _, _, let line), .test(_, _, _, _, let line), .binary(_, _, _, let line):
            return line
        default: return nil
        }
    }
}

/// Evaluated arguments of a call, filter or test.
struct JinjaCallArguments {
    var positional: [JinjaValue] = []
    var keyword: [(name: String, value: JinjaValue)] = []

    /// The argument at `position` or passed as `name`.
    func get(_ position: Int, _ name: String) -> JinjaValue? {
        if position < positional.count { return positional[position] }
        return keyword.first { $0.name == name }?.value
    }
}
