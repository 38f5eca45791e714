/// Each token's bytes when printed, worked out once at load (as llama.cpp's
/// piece cache): byte-level BPE tokens map their characters back to bytes,
/// SentencePiece tokens turn `▁` into space, `<0xNN>` tokens are one byte.
/// A piece may be part of a UTF-8 character; only a sequence of them is text.
struct Pieces: Sendable {
    private let bytes: [UInt8]
    private let offsets: [Int32]  // token i is bytes[offsets[i]..<offsets[i+1]]
    /// Control and unknown tokens: printed only when special tokens are asked for.
    private let hidden: [Bool]

    init(tokens: [String], attributes: [TokenAttributes], model: TokenizerModel) {
        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        var hidden: [Bool] = []
        for (text, a) in zip(tokens, attributes) {
            if !a.isDisjoint(with: [.control, .unknown, .userDefined]) {
                bytes += text.utf8
            } else if a.contains(.normal) {
                switch model {
                case .gpt2:
                    for scalar in text.unicodeScalars {
                        if let byte = ByteLevel.byte(for: scalar) { bytes.append(byte) } else { bytes += String(scalar).utf8 }
                    }
                case .llama:
                    bytes += Self.unescapingSpaces(Array(text.utf8))
                }
            } else if a.contains(.byte) {
                if let byte = Self.parseByteToken(text) { bytes.append(byte) } else { bytes += text.utf8 }
            }  // unused and undefined tokens print nothing, as in llama.cpp
            offsets.append(Int32(bytes.count))
            hidden.append(!a.isDisjoint(with: [.control, .unknown]))
        }
        self.bytes = bytes
        self.offsets = offsets
        self.hidden = hidden
    }

    /// UTF-8 with every `▁` (E2 96 81) turned into a space.
    static func unescapingSpaces(_ utf8: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            if i + 2 < utf8.count && utf8[i] == 0xE2 && utf8[i + 1] == 0x96 && utf8[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(utf8[i])
                i += 1
            }
        }
        return out
    }

    /// "<0x0A>" -> 0x0A
    static func parseByteToken(_ text: String) -> UInt8? {
        let u = Array(text.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3...4], as: UTF8.self), radix: 16)
    }

    /// Appends the token's bytes; out-of-range ids add nothing.
    func append(_ id: TokenID, special: Bool, to out: inout [UInt8]) {
        guard id >= 0, Int(id) < hidden.count, special || !hidden[Int(id)] else { return }
        out += bytes[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])]
    }
}

extension Tokenizer {
    /// Ids to text, for a whole sequence. Control tokens are left out unless
    /// `special` (llama.cpp's server prints them the same way). For
    /// SentencePiece, the space `encode` puts before the text is removed from
    /// the first token printed, if it is ordinary text (so with a hidden BOS
    /// `decode(encode(s)) == s`; with a printed BOS it stays, as llama.cpp
    /// prints it). Bytes that are not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [TokenID], special: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        var atStart = addsSpacePrefix
        for id in ids {
            let start = bytes.count
            pieces.append(id, special: special, to: &bytes)
            guard atStart, bytes.count > start else { continue }
            atStart = false
            if bytes[start] == 0x20 && !isControl(id) { bytes.remove(at: start) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Tokenizer {
    /// The bytes one token prints as (what OpenAI reports as a logprob's `bytes`).
    public func tokenBytes(_ id: TokenID, special: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        pieces.append(id, special: special, to: &bytes)
        return bytes
    }
}

/// Turns generated ids into text one token at a time without ever splitting
/// a UTF-8 character: a token that ends partway through a character (an
/// emoji spelled with `<0xF0><0x9F>...` byte tokens, or a byte-level BPE token
/// holding half a CJK character) is held back until the character is whole.
/// Generated text continues a prompt, so no leading space is removed.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: Tokenizer
    private let special: Bool
    private var pending: [UInt8] = []

    /// - special: print control tokens too.
    public init(tokenizer: Tokenizer, special: Bool = false) {
        self.tokenizer = tokenizer
        self.special = special
    }

    /// Adds one token; returns the text that is now complete (maybe "").
    public mutating func append(_ id: TokenID) -> String {
        tokenizer.pieces.append(id, special: special, to: &pending)
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is still held back (an unfinished character becomes U+FFFD).
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of `bytes` without a trailing character that has started but
    /// not finished. Malformed bytes are not held (they print as U+FFFD).
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var start = bytes.count
        var continuation = 0
        while start > 0 && continuation < 3 && bytes[start - 1] & 0xC0 == 0x80 {
            start -= 1
            continuation += 1
        }
        guard start > 0 else { return bytes.count }
        let lead = bytes[start - 1]
        let needed = lead >= 0xF0 && lead <= 0xF4 ? 3 : lead >= 0xE0 && lead < 0xF0 ? 2 : lead >= 0xC2 && lead < 0xE0 ? 1 : 0
        return continuation < needed ? start - 1 : bytes.count
    }
}
