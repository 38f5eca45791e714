/// Parsed template: statements and expressions. Every node that can fail at
/// render time keeps its source line for the error message.

/// A constant written in the template.
enum JinjaLiteral: Sendable {
    case none, bool(Bool), int(Int), double(Double), string(String)
}

indirect enum JinjaExpr: Sendable {
    case literal(JinjaLiteral)
    case name(String, line: Int)
    case list([JinjaExpr])
    case tuple([JinjaExpr])
    case dict([(key: JinjaExpr, value: JinjaExpr)])
    /// `a.b`
    case attribute(JinjaExpr, String, line: Int)
    /// `a[b]`
    case item(JinjaExpr, JinjaExpr, line: Int)
    /// `a[start:stop:step]`
    case slice(JinjaExpr, start: JinjaExpr?, stop: JinjaExpr?, step: JinjaExpr?, line: Int)
    case call(JinjaExpr, JinjaArguments, line: Int)
    /// `value | name(args)`
    case filter(JinjaExpr, name: String, JinjaArguments, line: Int)
    /// `value is [not] name(args)`
    case test(JinjaExpr, name: String, JinjaArguments, negated: Bool, line: Int)
    case unary(JinjaUnaryOperator, JinjaExpr, line: Int)
    case binary(JinjaBinaryOperator, JinjaExpr, JinjaExpr, line: Int)
    /// Python chains comparisons: `a < b < c` is `a < b and b < c`.
    case compare(JinjaExpr, [(op: JinjaCompareOperator, operand: JinjaExpr)], line: Int)
    case and(JinjaExpr, JinjaExpr)
    case or(JinjaExpr, JinjaExpr)
    case not(JinjaExpr)
    /// `then if condition else otherwise`; without `else` the result is undefined.
    case conditional(condition: JinjaExpr, then: JinjaExpr, otherwise: JinjaExpr?)
}

struct JinjaArguments: Sendable {
    var positional: [JinjaExpr] = []
    var keyword: [(name: String, value: JinjaExpr)] = []
}

enum JinjaUnaryOperator: Sendable { case minus, plus }

enum JinjaBinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
    case concat = "~"
}

enum JinjaCompareOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case isIn = "in", notIn = "not in"
}

/// Where `set` and `for` store values.
indirect enum JinjaAssignTarget: Sendable {
    case name(String)
    /// `a, b` unpacking.
    case tuple([JinjaAssignTarget])
    /// `ns.attr`, only allowed on a namespace().
    case namespaceAttribute(String, String)
}

indirect enum JinjaNode: Sendable {
    case text(String)
    case output(JinjaExpr)
    case ifChain([(condition: JinjaExpr, body: [JinjaNode])], otherwise: [JinjaNode])
    case forLoop(JinjaForLoop)
    case set(JinjaAssignTarget, JinjaExpr, line: Int)
    /// `{% set name %}body{% endset %}` captures rendered text.
    case setBlock(JinjaAssignTarget, [JinjaNode], line: Int)
    case breakLoop
    case continueLoop
    /// HF's `{% generation %}`: renders its body as is.
    case generation([JinjaNode])
}

struct JinjaForLoop: Sendable {
    var target: JinjaAssignTarget
    var iterable: JinjaExpr
    /// `for x in xs if cond`: filtered before loop.length is known.
    var condition: JinjaExpr?
    var body: [JinjaNode]
    /// Rendered when nothing was iterated.
    var otherwise: [JinjaNode]
    var line: Int
}
