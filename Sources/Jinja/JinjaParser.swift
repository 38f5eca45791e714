/// Builds statement nodes from tokens; expressions are in ExpressionParser.swift.
struct JinjaParser {
    let tokens: [JinjaToken]
    var index = 0
    /// For-loop bodies being parsed; `break`/`continue` need one.
    private var loopDepth = 0

    /// jinja2 tags we know but do not implement: a clear error beats a
    /// confusing "unexpected name" when a model ships e.g. a macro.
    private static let unsupportedTags: Set<String> = [
        "macro", "call", "filter", "include", "import", "from", "extends", "block", "with", "autoescape", "do",
        "trans", "pluralize",
    ]

    static func parse(_ tokens: [JinjaToken]) throws(TemplateError) -> [JinjaNode] {
        var parser = JinjaParser(tokens: tokens)
        let (nodes, _) = try parser.parseBody(until: [])
        return nodes
    }

    var current: JinjaToken { tokens[index] }

    mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    /// Parses nodes up to a `{% name %}` with a name in `terminators`, and
    /// returns that name with the parser just after it (the caller parses
    /// the rest of the tag), or nil at the end of the template.
    mutating func parseBody(until terminators: Set<String>) throws(TemplateError) -> ([JinjaNode], String?) {
        var nodes: [JinjaNode] = []
        while true {
            let token = current
            switch token.kind {
            case .text(let text):
                nodes.append(.text(text))
                advance()
            case .variableBegin:
                advance()
                let expr = try parseTuple()
                try expect(.variableEnd, "'}}'")
                nodes.append(.output(expr))
            case .blockBegin:
                advance()
                guard case .name(let tag) = current.kind else {
                    throw .syntax("expected a tag name after '{%'", line: current.line)
                }
                if terminators.contains(tag) {
                    advance()
                    return (nodes, tag)
                }
                nodes.append(try parseStatement(tag, line: current.line))
            case .end:
                if let expected = terminators.sorted().first(where: { $0.hasPrefix("end") }) {
                    throw .syntax("unexpected end of template, expected '\(expected)'", line: token.line)
                }
                return (nodes, nil)
            default:
                throw .syntax("unexpected token", line: token.line)
            }
        }
    }

    private mutating func parseStatement(_ tag: String, line: Int) throws(TemplateError) -> JinjaNode {
        advance()
        switch tag {
        case "if": return try parseIf()
        case "for": return try parseFor(line: line)
        case "set": return try parseSet(line: line)
        case "break", "continue":
            guard loopDepth > 0 else { throw .syntax("'\(tag)' outside loop", line: line) }
            try expect(.blockEnd, "'%}'")
            return tag == "break" ? .breakLoop : .continueLoop
        case "generation":
            try expect(.blockEnd, "'%}'")
            let (body, _) = try parseBody(until: ["endgeneration"])
            try expect(.blockEnd, "'%}'")
            return .generation(body)
        default:
            if Self.unsupportedTags.contains(tag) { throw .unsupported("tag '\(tag)'", line: line) }
            throw .syntax("unknown tag '\(tag)'", line: line)
        }
    }

    private mutating func parseIf() throws(TemplateError) -> JinjaNode {
        var branches: [(condition: JinjaExpr, body: [JinjaNode])] = []
        var condition = try parseExpression()
        try expect(.blockEnd, "'%}'")
        while true {
            let (body, terminator) = try parseBody(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            switch terminator {
            case "elif":
                condition = try parseExpression()
                try expect(.blockEnd, "'%}'")
            case "else":
                try expect(.blockEnd, "'%}'")
                let (otherwise, _) = try parseBody(until: ["endif"])
                try expect(.blockEnd, "'%}'")
                return .ifChain(branches, otherwise: otherwise)
            default:
                try expect(.blockEnd, "'%}'")
                return .ifChain(branches, otherwise: [])
            }
        }
    }

    private mutating func parseFor(line: Int) throws(TemplateError) -> JinjaNode {
        let target = try parseAssignTarget(allowNamespace: false)
        guard isName("in") else { throw .syntax("expected 'in' in for loop", line: current.line) }
        advance()
        let iterable = try parseTuple(allowConditional: false)
        var condition: JinjaExpr? = nil
        if isName("if") {
            advance()
            condition = try parseExpression()
        }
        if isName("recursive") { throw .unsupported("recursive for loop", line: current.line) }
        try expect(.blockEnd, "'%}'")
        loopDepth += 1
        let (body, terminator) = try parseBody(until: ["endfor", "else"])
        loopDepth -= 1
        var otherwise: [JinjaNode] = []
        if terminator == "else" {
            try expect(.blockEnd, "'%}'")
            (otherwise, _) = try parseBody(until: ["endfor"])
        }
        try expect(.blockEnd, "'%}'")
        return .forLoop(JinjaForLoop(target: target, iterable: iterable, condition: condition, body: body,
                                otherwise: otherwise, line: line))
    }

    private mutating func parseSet(line: Int) throws(TemplateError) -> JinjaNode {
        let target = try parseAssignTarget(allowNamespace: true)
        if isOperator("=") {
            advance()
            let value = try parseTuple()
            try expect(.blockEnd, "'%}'")
            return .set(target, value, line: line)
        }
        if isOperator("|") { throw .unsupported("filtered set block", line: line) }
        try expect(.blockEnd, "'%}'")
        let (body, _) = try parseBody(until: ["endset"])
        try expect(.blockEnd, "'%}'")
        return .setBlock(target, body, line: line)
    }

    /// `name`, `ns.attr` (set only), or a comma/paren tuple of names.
    private mutating func parseAssignTarget(allowNamespace: Bool) throws(TemplateError) -> JinjaAssignTarget {
        var targets: [JinjaAssignTarget] = []
        repeat {
            if !targets.isEmpty { advance() }  // the comma
            if isOperator("(") {
                advance()
                let inner = try parseAssignTarget(allowNamespace: false)
                try expect(.op(")"), "')'")
                targets.append(inner)
                continue
            }
            guard case .name(let name) = current.kind else {
                throw .syntax("expected a variable name to assign to", line: current.line)
            }
            advance()
            if allowNamespace && isOperator(".") {
                advance()
                guard case .name(let attribute) = current.kind else {
                    throw .syntax("expected an attribute name after '.'", line: current.line)
                }
                advance()
                targets.append(.namespaceAttribute(name, attribute))
            } else {
                targets.append(.name(name))
            }
        } while isOperator(",")
        return targets.count == 1 ? targets[0] : .tuple(targets)
    }

    // MARK: token helpers

    func isName(_ name: String) -> Bool {
        if case .name(name) = current.kind { return true }
        return false
    }

    func isOperator(_ op: String) -> Bool {
        if case .op(op) = current.kind { return true }
        return false
    }

    mutating func expect(_ kind: JinjaTokenKind, _ description: String) throws(TemplateError) {
        guard current.kind == kind else {
            throw .syntax("expected \(description), found \(Self.describe(current.kind))", line: current.line)
        }
        advance()
    }

    static func describe(_ kind: JinjaTokenKind) -> String {
        switch kind {
        case .text: return "text"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .name(let name): return "'\(name)'"
        case .string: return "a string"
        case .integer, .float: return "a number"
        case .op(let op): return "'\(op)'"
        case .end: return "end of template"
        }
    }
}
