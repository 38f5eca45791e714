/// Expression grammar, following jinja2's precedence (loosest first):
/// conditional, or, and, not, comparisons, + -, ~, * / // %, **,
/// unary minus, then postfix (. [] ()) and filters/tests, which bind
/// tighter than any binary operator (`a + b | trim` trims b only).
extension JinjaParser {
    /// An expression, or a tuple if commas follow (`{% set a, b = 1, 2 %}`).
    mutating func parseTuple(allowConditional: Bool = true) throws(TemplateError) -> JinjaExpr {
        let first = try parseExpression(allowConditional: allowConditional)
        guard isOperator(",") else { return first }
        var items = [first]
        while isOperator(",") {
            advance()
            if atTupleEnd { break }
            items.append(try parseExpression(allowConditional: allowConditional))
        }
        return .tuple(items)
    }

    private var atTupleEnd: Bool {
        switch current.kind {
        case .blockEnd, .variableEnd, .op(")"), .op("="): return true
        case .name(let name): return name == "in"
        default: return false
        }
    }

    mutating func parseExpression(allowConditional: Bool = true) throws(TemplateError) -> JinjaExpr {
        allowConditional ? try parseConditional() : try parseOr()
    }

    private mutating func parseConditional() throws(TemplateError) -> JinjaExpr {
        var expr = try parseOr()
        while isName("if") {
            advance()
            let condition = try parseOr()
            var otherwise: JinjaExpr? = nil
            if isName("else") {
                advance()
                otherwise = try parseConditional()
            }
            expr = .conditional(condition: condition, then: expr, otherwise: otherwise)
        }
        return expr
    }

    private mutating func parseOr() throws(TemplateError) -> JinjaExpr {
        var left = try parseAnd()
        while isName("or") {
            advance()
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws(TemplateError) -> JinjaExpr {
        var left = try parseNot()
        while isName("and") {
            advance()
            left = .and(left, try parseNot())
        }
        return left
    }

    private mutating func parseNot() throws(TemplateError) -> JinjaExpr {
        if isName("not") {
            advance()
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws(TemplateError) -> JinjaExpr {
        let line = current.line
        let first = try parseAdditive()
        var rest: [(op: JinjaCompareOperator, operand: JinjaExpr)] = []
        while true {
            if case .op(let symbol) = current.kind, let op = JinjaCompareOperator(rawValue: symbol), op != .isIn, op != .notIn {
                advance()
                rest.append((op, try parseAdditive()))
            } else if isName("in") {
                advance()
                rest.append((.isIn, try parseAdditive()))
            } else if isName("not"), case .name("in") = tokens[index + 1].kind {
                advance()
                advance()
                rest.append((.notIn, try parseAdditive()))
            } else {
                break
            }
        }
        return rest.isEmpty ? first : .compare(first, rest, line: line)
    }

    private mutating func parseAdditive() throws(TemplateError) -> JinjaExpr {
        var left = try parseConcat()
        while isOperator("+") || isOperator("-") {
            let op: JinjaBinaryOperator = isOperator("+") ? .add : .subtract
            let line = current.line
            advance()
            left = .binary(op, left, try parseConcat(), line: line)
        }
        return left
    }

    private mutating func parseConcat() throws(TemplateError) -> JinjaExpr {
        var left = try parseMultiplicative()
        while isOperator("~") {
            let line = current.line
            advance()
            left = .binary(.concat, left, try parseMultiplicative(), line: line)
        }
        return left
    }

    private mutating func parseMultiplicative() throws(TemplateError) -> JinjaExpr {
        var left = try parsePower()
        while case .op(let symbol) = current.kind, ["*", "/", "//", "%"].contains(symbol),
            let op = JinjaBinaryOperator(rawValue: symbol)
        {
            let line = current.line
            advance()
            left = .binary(op, left, try parsePower(), line: line)
        }
        return left
    }

    private mutating func parsePower() throws(TemplateError) -> JinjaExpr {
        var left = try parseUnary(withFilters: true)
        while isOperator("**") {
            let line = current.line
            advance()
            left = .binary(.power, left, try parseUnary(withFilters: true), line: line)
        }
        return left
    }

    private mutating func parseUnary(withFilters: Bool) throws(TemplateError) -> JinjaExpr {
        let line = current.line
        var node: JinjaExpr
        if isOperator("-") || isOperator("+") {
            let op: JinjaUnaryOperator = isOperator("-") ? .minus : .plus
            advance()
            node = .unary(op, try parseUnary(withFilters: false), line: line)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        return withFilters ? try parseFiltersAndTests(node) : node
    }

    private mutating func parsePrimary() throws(TemplateError) -> JinjaExpr {
        let token = current
        switch token.kind {
        case .name(let name):
            advance()
            switch name {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(name, line: token.line)
            }
        case .string(var text):
            advance()
            // Adjacent literals concatenate, as in Python.
            while case .string(let more) = current.kind {
                text += more
                advance()
            }
            return .literal(.string(text))
        case .integer(let value):
            advance()
            return .literal(.int(value))
        case .float(let value):
            advance()
            return .literal(.double(value))
        case .op("("):
            advance()
            if isOperator(")") {
                advance()
                return .tuple([])
            }
            let inner = try parseTuple()
            try expect(.op(")"), "')'")
            return inner
        case .op("["):
            advance()
            var items: [JinjaExpr] = []
            while !isOperator("]") {
                if !items.isEmpty { try expect(.op(","), "',' or ']'") }
                if isOperator("]") { break }
                items.append(try parseExpression())
            }
            advance()
            return .list(items)
        case .op("{"):
            advance()
            var pairs: [(key: JinjaExpr, value: JinjaExpr)] = []
            while !isOperator("}") {
                if !pairs.isEmpty { try expect(.op(","), "',' or '}'") }
                if isOperator("}") { break }
                let key = try parseExpression()
                try expect(.op(":"), "':'")
                pairs.append((key, try parseExpression()))
            }
            advance()
            return .dict(pairs)
        default:
            throw .syntax("unexpected \(Self.describe(token.kind))", line: token.line)
        }
    }

    private mutating func parsePostfix(_ start: JinjaExpr) throws(TemplateError) -> JinjaExpr {
        var node = start
        while true {
            let line = current.line
            if isOperator(".") {
                advance()
                switch current.kind {
                case .name(let name): node = .attribute(node, name, line: line)
                case .integer(let value): node = .item(node, .literal(.int(value)), line: line)
                default: throw .syntax("expected an attribute name after '.'", line: line)
                }
                advance()
            } else if isOperator("[") {
                advance()
                node = try parseSubscript(node, line: line)
            } else if isOperator("(") {
                node = .call(node, try parseCallArguments(), line: line)
            } else {
                return node
            }
        }
    }

    /// After `[`: an index or a `start:stop:step` slice.
    private mutating func parseSubscript(_ target: JinjaExpr, line: Int) throws(TemplateError) -> JinjaExpr {
        var parts: [JinjaExpr?] = []
        var pending: JinjaExpr? = nil
        var sawColon = false
        while !isOperator("]") {
            if isOperator(":") {
                advance()
                parts.append(pending)
                pending = nil
                sawColon = true
            } else if pending == nil {
                pending = try parseExpression()
            } else {
                throw .syntax("expected ']'", line: current.line)
            }
        }
        advance()
        guard sawColon else {
            guard let index = pending else { throw .syntax("empty subscript", line: line) }
            return .item(target, index, line: line)
        }
        parts.append(pending)
        guard parts.count <= 3 else { throw .syntax("too many ':' in slice", line: line) }
        return .slice(target, start: parts[0], stop: parts.count > 1 ? parts[1] : nil,
                      step: parts.count > 2 ? parts[2] : nil, line: line)
    }

    /// `( positional..., name=value... )`
    private mutating func parseCallArguments() throws(TemplateError) -> JinjaArguments {
        try expect(.op("("), "'('")
        var arguments = JinjaArguments()
        while !isOperator(")") {
            if !arguments.positional.isEmpty || !arguments.keyword.isEmpty { try expect(.op(","), "',' or ')'") }
            if isOperator(")") { break }
            if isOperator("*") || isOperator("**") { throw .unsupported("*args/**kwargs in a call", line: current.line) }
            if case .name(let name) = current.kind, case .op("=") = tokens[index + 1].kind {
                advance()
                advance()
                arguments.keyword.append((name, try parseExpression()))
            } else {
                if !arguments.keyword.isEmpty {
                    throw .syntax("positional argument after keyword argument", line: current.line)
                }
                arguments.positional.append(try parseExpression())
            }
        }
        advance()
        return arguments
    }

    private mutating func parseFiltersAndTests(_ start: JinjaExpr) throws(TemplateError) -> JinjaExpr {
        var node = start
        while true {
            let line = current.line
            if isOperator("|") {
                advance()
                let name = try parseDottedName()
                let arguments = isOperator("(") ? try parseCallArguments() : JinjaArguments()
                node = .filter(node, name: name, arguments, line: line)
            } else if isName("is") {
                advance()
                var negated = false
                if isName("not") {
                    advance()
                    negated = true
                }
                let name = try parseDottedName()
                var arguments = JinjaArguments()
                if isOperator("(") {
                    arguments = try parseCallArguments()
                } else if startsTestArgument {
                    // `x is divisibleby 3`: one bare argument, as jinja2 allows.
                    arguments.positional = [try parsePostfix(try parsePrimary())]
                }
                node = .test(node, name: name, arguments, negated: negated, line: line)
            } else if isOperator("(") {
                node = .call(node, try parseCallArguments(), line: line)
            } else {
                return node
            }
        }
    }

    private var startsTestArgument: Bool {
        switch current.kind {
        case .name(let name): return !["else", "or", "and"].contains(name)
        case .string, .integer, .float, .op("["), .op("{"): return true
        default: return false
        }
    }

    private mutating func parseDottedName() throws(TemplateError) -> String {
        guard case .name(var name) = current.kind else {
            throw .syntax("expected a filter or test name", line: current.line)
        }
        advance()
        while isOperator("."), case .name(let part) = tokens[index + 1].kind {
            advance()
            advance()
            name += "." + part
        }
        return name
    }
}
