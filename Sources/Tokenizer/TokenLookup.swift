#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Token text -> id, matching bytes exactly.
///
/// Not a `[String: TokenID]`: Swift's String equality is canonical
/// equivalence, under which distinct tokens are equal (Llama's 'ί' U+1F77 and
/// 'ί' U+03AF are two tokens). And lookups come from byte buffers (merge
/// lines at load, SentencePiece pairs while encoding), so an open-addressing
/// table over one contiguous copy of the vocabulary answers them without
/// allocating; with a Swift dictionary of byte arrays, loading Llama 3's
/// 280,000 merges took twice as long.
struct TokenLookup: Sendable {
    private let bytes: [UInt8]
    private let offsets: [Int32]  // token i is bytes[offsets[i]..<offsets[i + 1]]
    private let slots: [Int32]    // token id, or -1 for empty
    private let mask: Int
    /// The first token whose text repeats an earlier one: (earlier id, id).
    let firstDuplicate: (TokenID, TokenID)?

    init(tokens: [String]) {
        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(tokens.count + 1)
        for token in tokens {
            bytes += token.utf8
            offsets.append(Int32(bytes.count))
        }
        var capacity = 16
        while capacity < tokens.count * 2 { capacity *= 2 }
        var slots = [Int32](repeating: -1, count: capacity)
        var duplicate: (TokenID, TokenID)?
        bytes.withUnsafeBufferPointer { all in
            for id in 0..<tokens.count {
                let text = UnsafeBufferPointer(rebasing: all[Int(offsets[id])..<Int(offsets[id + 1])])
                var slot = Self.hash(text) & (capacity - 1)
                while slots[slot] >= 0 {
                    let other = Int(slots[slot])
                    let start = Int(offsets[other]), end = Int(offsets[other + 1])
                    if duplicate == nil && Self.equal(text, all, start, end) {
                        duplicate = (TokenID(other), TokenID(id))
                    }
                    slot = (slot + 1) & (capacity - 1)
                }
                slots[slot] = Int32(id)
            }
        }
        self.bytes = bytes
        self.offsets = offsets
        self.slots = slots
        self.mask = capacity - 1
        self.firstDuplicate = duplicate
    }

    func id(_ text: UnsafeBufferPointer<UInt8>) -> TokenID? {
        var slot = Self.hash(text) & mask
        return bytes.withUnsafeBufferPointer { all in
            while true {
                let id = Int(slots[slot])
                if id < 0 { return nil }
                if Self.equal(text, all, Int(offsets[id]), Int(offsets[id + 1])) { return TokenID(id) }
                slot = (slot + 1) & mask
            }
        }
    }

    func id(_ text: String) -> TokenID? {
        var text = text
        return text.withUTF8 { id($0) }
    }

    func id(_ bytes: [UInt8]) -> TokenID? {
        bytes.withUnsafeBufferPointer { id($0) }
    }

    /// `text` == all[start..<end]; memcmp keeps debug builds (the tests) fast.
    @inline(__always)
    private static func equal(_ text: UnsafeBufferPointer<UInt8>, _ all: UnsafeBufferPointer<UInt8>,
                              _ start: Int, _ end: Int) -> Bool {
        guard end - start == text.count else { return false }
        return text.isEmpty || memcmp(text.baseAddress!, all.baseAddress! + start, text.count) == 0
    }

    /// FNV-1a, folded: token texts are short, so a simple byte hash is enough.
    @inline(__always)
    private static func hash(_ text: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var i = 0
        while i < text.count {
            h = (h ^ UInt64(text[i])) &* 0x100_0000_01b3
            i += 1
        }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }
}
