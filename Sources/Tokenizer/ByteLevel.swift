/// GPT-2's byte-level alphabet: every byte 0...255 stands for one printable
/// Unicode scalar, so a byte-level BPE vocabulary is stored as ordinary text.
/// Printable Latin-1 bytes ('!'...'~', '¡'...'¬', '®'...'ÿ') stand for
/// themselves; the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) are
/// numbered upwards from U+0100 in byte order (so space is 'Ġ' U+0120 and
/// newline is 'Ċ' U+010A).
enum ByteLevel {
    /// byte -> the scalar that stands for it
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(byte) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// byte -> UTF-8 of the scalar that stands for it
    static let utf8ForByte: [[UInt8]] = scalarForByte.map { Array(String($0).utf8) }

    /// The byte a scalar stands for, or nil for scalars outside the alphabet.
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if v < 256 { return isPrintable(Int(v)) ? UInt8(v) : nil }
        guard v < 256 + 68 else { return nil }
        return byteForHighScalar[Int(v - 256)]
    }

    /// Scalars U+0100..<U+0144, in order, stand for the non-printable bytes.
    private static let byteForHighScalar: [UInt8] = (0..<256).filter { !isPrintable($0) }.map { UInt8($0) }

    private static func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }
}
