/// Byte-level BPE (`tokenizer.ggml.model = gpt2`): the pre-tokenizer cuts
/// text into words; each word starts as one symbol per UTF-8 byte and the
/// adjacent pair with the best (lowest) merge rank is merged until no pair
/// has a rank; ties go to the leftmost pair, as in llama.cpp.
///
/// Symbols are integers, not strings: every string that appears in a merge is
/// interned (vocabulary strings keep their token id; the rare merge result
/// that is not a token gets an id past the vocabulary), so the merge loop does
/// one hash lookup of a packed pair and no string work.
struct BytePairEncoder: Sendable {
    let preTokenizer: PreTokenizer
    /// Take a word that is itself a token as is (Llama 3's tiktoken heritage:
    /// some tokens cannot be reached by merges).
    let ignoresMerges: Bool
    private let vocabularySize: Int
    private let tokenIDs: TokenLookup
    /// byte -> symbol of its byte-level character
    private let byteSymbols: [Int32]
    /// (left symbol << 32 | right symbol) -> (rank << 32 | merged symbol)
    private let merges: [UInt64: UInt64]
    /// Texts of symbols numbered from `vocabularySize` up.
    private let extraSymbols: [String]

    init(tokens: [String], tokenIDs: TokenLookup, merges mergeLines: [String],
         preTokenizer: PreTokenizer, ignoresMerges: Bool) {
        self.preTokenizer = preTokenizer
        self.ignoresMerges = ignoresMerges
        self.vocabularySize = tokens.count
        self.tokenIDs = tokenIDs

        var extras: [String] = []
        var extraIDs: [[UInt8]: Int32] = [:]
        func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32 {
            if let id = tokenIDs.id(bytes) { return id }
            let key = Array(bytes)
            if let id = extraIDs[key] { return id }
            let id = Int32(tokens.count + extras.count)
            extras.append(String(decoding: bytes, as: UTF8.self))
            extraIDs[key] = id
            return id
        }

        byteSymbols = ByteLevel.utf8ForByte.map { utf8 in utf8.withUnsafeBufferPointer { intern($0) } }

        // Merge lines are parsed as bytes (Llama 3 has 280,000 of them).
        // Walking them backwards lets a later assignment stand for the first
        // listing of a repeated pair, which is the one llama.cpp keeps.
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(mergeLines.count)
        let longest = mergeLines.reduce(0) { max($0, $1.utf8.count) }
        let joined = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: longest)
        defer { joined.deallocate() }
        for rank in mergeLines.indices.reversed() {
            var line = mergeLines[rank]
            line.withUTF8 { utf8 in
                // Split at the first space after the first byte, as llama.cpp does.
                guard utf8.count > 1, let space = utf8[1...].firstIndex(of: 0x20) else { return }
                let left = UnsafeBufferPointer(rebasing: utf8[..<space])
                let right = UnsafeBufferPointer(rebasing: utf8[(space + 1)...])
                for i in 0..<space { joined[i] = utf8[i] }
                for i in (space + 1)..<utf8.count { joined[i - 1] = utf8[i] }
                let l = intern(left), r = intern(right)
                let m = intern(UnsafeBufferPointer(rebasing: joined[..<(utf8.count - 1)]))
                let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
                table[key] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: m))
            }
        }
        self.merges = table
        self.extraSymbols = extras
    }

    /// Reusable buffers for one `encode` call (one word after another).
    struct Scratch {
        var scalars: [UInt32] = []
        var classes: [UInt8] = []
        var offsets: [Int] = []
        var symbols: [Int32] = []
        var next: [Int32] = []
        var prev: [Int32] = []
        var spelling: [UInt8] = []
        var queue = MergeQueue<Candidate>()
    }

    /// A pair that may be merged; ordered by rank, then position.
    struct Candidate: Comparable {
        var priority: UInt64  // rank << 32 | left index
        var right: Int32
        var leftSymbol: Int32
        var rightSymbol: Int32
        var merged: Int32
        static func < (a: Candidate, b: Candidate) -> Bool { a.priority < b.priority }
        static func == (a: Candidate, b: Candidate) -> Bool { a.priority == b.priority }
        var left: Int { Int(priority & 0xFFFF_FFFF) }
    }

    /// Encodes one stretch of plain text (no special tokens in it).
    func encode(_ text: UnsafeBufferPointer<UInt8>, into out: inout [TokenID], scratch s: inout Scratch) {
        guard !text.isEmpty else { return }
        decodeScalars(text, into: &s)
        let ends = s.scalars.withUnsafeBufferPointer { scalars in
            s.classes.withUnsafeBufferPointer { classes in preTokenizer.split(scalars, classes) }
        }
        var start = 0
        for end in ends {
            let word = UnsafeBufferPointer(rebasing: text[s.offsets[start]..<s.offsets[end]])
            encodeWord(word, into: &out, scratch: &s)
            start = end
        }
    }

    /// UTF-8 -> scalars, their classes, and each scalar's byte offset (plus
    /// the end). The input comes from a Swift String cut at scalar
    /// boundaries, so it is valid UTF-8.
    private func decodeScalars(_ text: UnsafeBufferPointer<UInt8>, into s: inout Scratch) {
        s.scalars.removeAll(keepingCapacity: true)
        s.classes.removeAll(keepingCapacity: true)
        s.offsets.removeAll(keepingCapacity: true)
        var i = 0
        let n = text.count
        while i < n {
            s.offsets.append(i)
            let b0 = UInt32(text[i])
            var scalar: UInt32
            if b0 < 0x80 {
                scalar = b0; i += 1
            } else if b0 < 0xE0 {
                scalar = (b0 & 0x1F) << 6 | UInt32(text[i + 1] & 0x3F); i += 2
            } else if b0 < 0xF0 {
                scalar = (b0 & 0x0F) << 12 | UInt32(text[i + 1] & 0x3F) << 6 | UInt32(text[i + 2] & 0x3F); i += 3
            } else {
                scalar = (b0 & 0x07) << 18 | UInt32(text[i + 1] & 0x3F) << 12
                    | UInt32(text[i + 2] & 0x3F) << 6 | UInt32(text[i + 3] & 0x3F); i += 4
            }
            s.scalars.append(scalar)
            s.classes.append(ScalarClass.of(scalar).rawValue)
        }
        s.offsets.append(n)
    }

    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into out: inout [TokenID], scratch s: inout Scratch) {
        if word.count == 1 { emit(byteSymbols[Int(word[0])], into: &out); return }
        if ignoresMerges, let id = wholeWordToken(word, &s) { out.append(id); return }

        let n = word.count
        s.symbols.removeAll(keepingCapacity: true)
        s.next.removeAll(keepingCapacity: true)
        s.prev.removeAll(keepingCapacity: true)
        for i in 0..<n {
            s.symbols.append(byteSymbols[Int(word[i])])
            s.prev.append(Int32(i - 1))
            s.next.append(i + 1 < n ? Int32(i + 1) : -1)
        }
        s.queue.removeAll()
        for i in 0..<(n - 1) { addCandidate(i, i + 1, &s) }

        while let c = s.queue.pop() {
            let l = c.left, r = Int(c.right)
            // Stale: one side has merged since this pair was queued.
            guard s.symbols[l] == c.leftSymbol, s.symbols[r] == c.rightSymbol else { continue }
            s.symbols[l] = c.merged
            s.symbols[r] = -1
            let after = s.next[r]
            s.next[l] = after
            if after >= 0 { s.prev[Int(after)] = Int32(l) }
            if s.prev[l] >= 0 { addCandidate(Int(s.prev[l]), l, &s) }
            if after >= 0 { addCandidate(l, Int(after), &s) }
        }

        var i = 0
        while i >= 0 {
            emit(s.symbols[i], into: &out)
            i = Int(s.next[i])
        }
    }

    /// The token whose text is the whole word in byte-level spelling, if any.
    private func wholeWordToken(_ word: UnsafeBufferPointer<UInt8>, _ s: inout Scratch) -> TokenID? {
        s.spelling.removeAll(keepingCapacity: true)
        for byte in word { s.spelling.append(contentsOf: ByteLevel.utf8ForByte[Int(byte)]) }
        return tokenIDs.id(s.spelling)
    }

    @inline(__always)
    private func addCandidate(_ l: Int, _ r: Int, _ s: inout Scratch) {
        let a = s.symbols[l], b = s.symbols[r]
        let key = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        guard let value = merges[key] else { return }
        s.queue.push(Candidate(priority: (value >> 32) << 32 | UInt64(l), right: Int32(r),
                               leftSymbol: a, rightSymbol: b, merged: Int32(truncatingIfNeeded: value)))
    }

    /// A finished symbol is normally a token. If not (a merge result or a
    /// byte missing from the vocabulary), llama.cpp emits the tokens for its
    /// single ASCII characters and drops the rest; so do we.
    @inline(__always)
    private func emit(_ symbol: Int32, into out: inout [TokenID]) {
        if Int(symbol) < vocabularySize { out.append(symbol); return }
        for byte in extraSymbols[Int(symbol) - vocabularySize].utf8 where byte < 0x80 {
            if let id = tokenIDs.id([byte]) { out.append(id) }
        }
    }
}
