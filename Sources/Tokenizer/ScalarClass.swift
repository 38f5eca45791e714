/// The Unicode facts the pre-tokenizers ask of a scalar: is it a letter
/// (\p{L}), a number (\p{N}), whitespace (\s, the White_Space property), or
/// punctuation (\p{P}, used by the default pre-tokenizer only).
///
/// The scanners classify every scalar once, so this is on the hot path:
/// ASCII and the BMP come from tables built once (the stdlib's property
/// lookup costs tens of nanoseconds a call); the rare scalars above the BMP
/// ask the stdlib directly.
struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt8

    static let letter = ScalarClass(rawValue: 1 << 0)
    static let number = ScalarClass(rawValue: 1 << 1)
    static let whitespace = ScalarClass(rawValue: 1 << 2)
    static let punctuation = ScalarClass(rawValue: 1 << 3)

    @inline(__always)
    static func of(_ scalar: UInt32) -> ScalarClass {
        if scalar < 0x10000 { return ScalarClass(rawValue: bmpTable[Int(scalar)]) }
        return compute(scalar)
    }

    static func compute(_ value: UInt32) -> ScalarClass {
        guard let scalar = Unicode.Scalar(value) else { return [] }
        let properties = scalar.properties
        var result: ScalarClass = properties.isWhitespace ? .whitespace : []
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            result.insert(.punctuation)
        default:
            break
        }
        return result
    }

    /// One byte per BMP scalar (64 KiB), built on first use; Swift globals are
    /// initialised lazily and thread-safely.
    private static let bmpTable: [UInt8] = (0..<0x10000).map { compute(UInt32($0)).rawValue }
}
