/// Finds special tokens written out in text (`<|im_start|>`) so they become
/// their own ids instead of being spelled with ordinary tokens.
///
/// Same order as llama.cpp: tokens are tried longest first, each one splitting
/// every plain-text stretch left by the longer ones at all its occurrences.
/// Control and unknown tokens are recognised only when asked (`parseSpecial`);
/// user-defined tokens always are, as in Hugging Face tokenizers.
struct SpecialTokens: Sendable {
    struct Entry: Sendable {
        var bytes: [UInt8]
        var id: TokenID
        var alwaysParsed: Bool
    }

    enum Fragment: Equatable {
        case text(Range<Int>)
        case token(TokenID)
    }

    /// Longest first (ties by id, for a stable order).
    private let entries: [Entry]
    /// For the scan that finds which entries occur at all (most texts contain
    /// none, and Llama 3 has 256 that all start with "<|"): indices into
    /// `entries` by their first two bytes, and the one-byte entries.
    private let byFirstTwoBytes: [UInt16: [Int]]
    private let oneByte: [[Int]]
    private let isFirstByte: [Bool]

    init(_ entries: [Entry]) {
        let sorted = entries.filter { !$0.bytes.isEmpty }.sorted {
            $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id
        }
        var pairs: [UInt16: [Int]] = [:]
        var single = [[Int]](repeating: [], count: 256)
        var first = [Bool](repeating: false, count: 256)
        for (i, e) in sorted.enumerated() {
            first[Int(e.bytes[0])] = true
            if e.bytes.count == 1 {
                single[Int(e.bytes[0])].append(i)
            } else {
                pairs[UInt16(e.bytes[0]) << 8 | UInt16(e.bytes[1]), default: []].append(i)
            }
        }
        self.entries = sorted
        self.byFirstTwoBytes = pairs
        self.oneByte = single
        self.isFirstByte = first
    }

    func partition(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Fragment] {
        guard !text.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<text.count)]
        for e in occurring(in: text, parseSpecial: parseSpecial) {
            var result: [Fragment] = []
            for fragment in fragments {
                guard case .text(let range) = fragment else { result.append(fragment); continue }
                var from = range.lowerBound
                while let at = find(e.bytes, in: text, from: from, to: range.upperBound) {
                    if at > from { result.append(.text(from..<at)) }
                    result.append(.token(e.id))
                    from = at + e.bytes.count
                }
                if from < range.upperBound { result.append(.text(from..<range.upperBound)) }
            }
            fragments = result
        }
        return fragments
    }

    /// Entries that appear somewhere in `text`, in trial order.
    private func occurring(in text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Entry] {
        var seen = [Bool](repeating: false, count: entries.count)
        var any = false
        func check(_ candidates: [Int], at i: Int) {
            for k in candidates where !seen[k] {
                let e = entries[k]
                guard parseSpecial || e.alwaysParsed else { continue }
                if matches(e.bytes, in: text, at: i) { seen[k] = true; any = true }
            }
        }
        for i in 0..<text.count where isFirstByte[Int(text[i])] {
            check(oneByte[Int(text[i])], at: i)
            if i + 1 < text.count, let candidates = byFirstTwoBytes[UInt16(text[i]) << 8 | UInt16(text[i + 1])] {
                check(candidates, at: i)
            }
        }
        guard any else { return [] }
        return entries.indices.filter { seen[$0] }.map { entries[$0] }
    }

    private func matches(_ needle: [UInt8], in text: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i + needle.count <= text.count else { return false }
        for k in 0..<needle.count where text[i + k] != needle[k] { return false }
        return true
    }

    private func find(_ needle: [UInt8], in text: UnsafeBufferPointer<UInt8>, from: Int, to end: Int) -> Int? {
        var i = from
        while i + needle.count <= end {
            if text[i] == needle[0] && matches(needle, in: text, at: i) { return i }
            i += 1
        }
        return nil
    }
}
