/// A byte-level recogniser of one JSON object (RFC 8259): fed the generated
/// bytes one at a time, it says whether they can still be the start of a
/// valid object, and when the object is complete. Tokens that split a
/// string's UTF-8 or a number work, since it sees bytes, not tokens. Nesting
/// and whitespace runs are bounded so that a small model cannot wander off.
struct JSONGrammar: Hashable {
    enum Container: UInt8, Hashable { case object, array }

    enum Mode: UInt8, Hashable {
        /// Nothing yet: only `{` (after whitespace).
        case start
        /// A value must begin.
        case value
        /// After `{`: a key or `}`.
        case keyOrEnd
        /// After `,` in an object: a key.
        case key
        /// After a key: `:`.
        case colon
        /// After a value: `,` or the container's end.
        case afterValue
        /// After `[`: a value or `]`.
        case valueOrEnd
        case string, escape, unicode, number, literal
        /// The top-level object is closed.
        case done
    }

    static let maxDepth = 32
    static let maxWhitespaceRun = 16
    private static let literals: [[UInt8]] = [Array("true".utf8), Array("false".utf8), Array("null".utf8)]

    private(set) var mode = Mode.start
    private var stack: [Container] = []
    /// The string being read is a key (`:` follows it).
    private var inKey = false
    private var hexLeft = 0
    /// Where a number is (`SchemaMatcher.numberStep`'s phases).
    private var numberPhase = 0
    /// Digits in the number's current part (bounded as in `SchemaMatcher`).
    private var numberDigits = 0
    private var literal = 0, literalIndex = 0
    private var whitespaceRun = 0

    /// `anyValue`: any JSON value rather than an object (a schema of `{}`).
    init(anyValue: Bool = false) { mode = anyValue ? .value : .start }

    var isComplete: Bool { mode == .done }

    /// A top-level number that may end here (only the byte after it can tell).
    var numberCanEnd: Bool { mode == .number && stack.isEmpty && SchemaMatcher.numberCanEnd(numberPhase) }

    /// Takes one byte; false (and the state unchanged in meaning) if it cannot continue a JSON object.
    mutating func feed(_ byte: UInt8) -> Bool {
        switch mode {
        case .done:
            return false
        case .start:
            if isWhitespace(byte) { return whitespace() }
            guard byte == UInt8(ascii: "{") else { return false }
            return open(.object)
        case .value, .valueOrEnd:
            if isWhitespace(byte) { return whitespace() }
            if mode == .valueOrEnd, byte == UInt8(ascii: "]") { return close(.array) }
            return beginValue(byte)
        case .keyOrEnd, .key:
            if isWhitespace(byte) { return whitespace() }
            if mode == .keyOrEnd, byte == UInt8(ascii: "}") { return close(.object) }
            guard byte == UInt8(ascii: "\"") else { return false }
            inKey = true
            mode = .string
            return true
        case .colon:
            if isWhitespace(byte) { return whitespace() }
            guard byte == UInt8(ascii: ":") else { return false }
            mode = .value
            whitespaceRun = 0
            return true
        case .afterValue:
            if isWhitespace(byte) { return whitespace() }
            guard let top = stack.last else { return false }
            switch (byte, top) {
            case (UInt8(ascii: ","), .object): mode = .key
            case (UInt8(ascii: ","), .array): mode = .value
            case (UInt8(ascii: "}"), .object): return close(.object)
            case (UInt8(ascii: "]"), .array): return close(.array)
            default: return false
            }
            whitespaceRun = 0
            return true
        case .string:
            switch byte {
            case UInt8(ascii: "\""):
                mode = inKey ? .colon : .afterValue
                inKey = false
                whitespaceRun = 0
            case UInt8(ascii: "\\"): mode = .escape
            case 0..<0x20: return false  // control characters must be escaped
            default: break
            }
            return true
        case .escape:
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                 UInt8(ascii: "r"), UInt8(ascii: "t"):
                mode = .string
            case UInt8(ascii: "u"):
                mode = .unicode
                hexLeft = 4
            default: return false
            }
            return true
        case .unicode:
            guard isHex(byte) else { return false }
            hexLeft -= 1
            if hexLeft == 0 { mode = .string }
            return true
        case .number:
            return number(byte)
        case .literal:
            let word = Self.literals[literal]
            guard byte == word[literalIndex] else { return false }
            literalIndex += 1
            if literalIndex == word.count { endValue() }
            return true
        }
    }

    /// Feeds every byte; false as soon as one cannot continue.
    mutating func feed<S: Sequence>(_ bytes: S) -> Bool where S.Element == UInt8 {
        for byte in bytes where !feed(byte) { return false }
        return true
    }

    private func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
    private func isHex(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
    }

    private mutating func whitespace() -> Bool {
        whitespaceRun += 1
        return whitespaceRun <= Self.maxWhitespaceRun
    }

    private mutating func open(_ container: Container) -> Bool {
        guard stack.count < Self.maxDepth else { return false }
        stack.append(container)
        mode = container == .object ? .keyOrEnd : .valueOrEnd
        whitespaceRun = 0
        return true
    }

    private mutating func close(_ container: Container) -> Bool {
        guard stack.last == container else { return false }
        stack.removeLast()
        endValue()
        return true
    }

    /// A value ended: the container's separator or end follows, or the whole object is done.
    private mutating func endValue() {
        mode = stack.isEmpty ? .done : .afterValue
        whitespaceRun = 0
    }

    private mutating func beginValue(_ byte: UInt8) -> Bool {
        whitespaceRun = 0
        switch byte {
        case UInt8(ascii: "{"): return open(.object)
        case UInt8(ascii: "["): return open(.array)
        case UInt8(ascii: "\""):
            mode = .string
            return true
        case _ where SchemaMatcher.numberStart(byte) != nil:
            mode = .number
            numberPhase = SchemaMatcher.numberStart(byte)!
            numberDigits = 1
            return true
        default:
            guard let index = Self.literals.firstIndex(where: { $0[0] == byte }) else { return false }
            mode = .literal
            literal = index
            literalIndex = 1
            return true
        }
    }

    /// Numbers follow `SchemaMatcher`'s rule (the one definition of a JSON number's phases).
    private mutating func number(_ byte: UInt8) -> Bool {
        guard let next = SchemaMatcher.numberStep(numberPhase, byte, integer: false) else {
            // Not part of the number: it ends here if it may, and the byte is read after it.
            guard SchemaMatcher.numberCanEnd(numberPhase) else { return false }
            endValue()
            return feed(byte)
        }
        numberDigits = next == numberPhase ? numberDigits + 1 : 1
        numberPhase = next
        return numberDigits <= SchemaMatcher.maxDigits
    }
}
