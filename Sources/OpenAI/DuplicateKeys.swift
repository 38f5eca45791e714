import Foundation

/// Finds a key that appears twice in one JSON object. Foundation's decoder
/// keeps the first value while most parsers keep the last, so a body with a
/// duplicate would mean different things to a proxy and to us: we refuse it.
/// One pass over the bytes; malformed JSON is left for the decoder to report.
public enum DuplicateKeys {
    public static func first(in json: Data) -> String? {
        json.withUnsafeBytes { raw in first(in: raw.bindMemory(to: UInt8.self)) }
    }

    private static func first(in bytes: UnsafeBufferPointer<UInt8>) -> String? {
        /// One open container: an object with the keys seen so far, or an array (nil).
        var stack: [Set<String>?] = []
        /// In an object, the next string is a key (after `{` or `,`).
        var expectingKey = false
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "{"):
                stack.append([])
                expectingKey = true
            case UInt8(ascii: "["):
                stack.append(nil)
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = stack.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                let start = i
                var escaped = false
                i += 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\") {
                        escaped = true
                        i += 1
                    }
                    i += 1
                }
                guard i < bytes.count else { return nil }
                if expectingKey, let top = stack.indices.last, stack[top] != nil {
                    let literal = UnsafeBufferPointer(rebasing: bytes[start...i])
                    guard let key = escaped ? unescape(literal) : String(decoding: literal.dropFirst().dropLast(), as: UTF8.self)
                    else { return nil }
                    // Inserted in place: a copy of the set per key would make wide objects quadratic.
                    guard stack[top]!.insert(key).inserted else { return key }
                    expectingKey = false
                }
            default:
                break
            }
            i += 1
        }
        return nil
    }

    /// A key with escapes, decoded so that `"a\u0062"` and `"ab"` are the same key.
    private static func unescape(_ literal: UnsafeBufferPointer<UInt8>) -> String? {
        try? JSONDecoder().decode(String.self, from: Data(literal))
    }
}
