/// SentencePiece BPE (`tokenizer.ggml.model = llama`), as llama.cpp runs it:
/// spaces become `▁` (U+2581), the text starts as one symbol per character,
/// and the adjacent pair whose concatenation is the vocabulary token with the
/// highest score is merged until no pair is a token (ties: leftmost). A
/// character left over that is not a token is spelled with `<0xNN>` byte
/// tokens.
struct SentencePieceEncoder: Sendable {
    private let tokenIDs: TokenLookup
    private let scores: [Float]
    /// byte -> `<0xNN>` token (or the one-byte token, or unknown)
    private let byteTokens: [TokenID?]
    private let longestToken: Int

    init(tokens: [String], tokenIDs: TokenLookup, scores: [Float], unknownID: TokenID?) {
        self.tokenIDs = tokenIDs
        self.scores = scores.count == tokens.count ? scores : [Float](repeating: 0, count: tokens.count)
        self.byteTokens = (0..<256).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            if let id = tokenIDs.id("<0x" + (byte < 16 ? "0" : "") + hex + ">") { return id }
            if let id = tokenIDs.id([UInt8(byte)]) { return id }
            return unknownID
        }
        self.longestToken = tokens.reduce(0) { max($0, $1.utf8.count) }
    }

    struct Candidate: Comparable {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32
        /// Higher score first, then leftmost.
        static func < (a: Candidate, b: Candidate) -> Bool {
            a.score > b.score || (a.score == b.score && a.left < b.left)
        }
        static func == (a: Candidate, b: Candidate) -> Bool { a.score == b.score && a.left == b.left }
    }

    /// Encodes one stretch of plain text. `prefixSpace`: add the leading
    /// space SentencePiece expects at the start of text (llama.cpp also does
    /// it after every special token).
    func encode(_ raw: UnsafeBufferPointer<UInt8>, prefixSpace: Bool, into out: inout [TokenID]) {
        var text: [UInt8] = []
        text.reserveCapacity(raw.count + 3)
        if prefixSpace { text += [0xE2, 0x96, 0x81] }
        for byte in raw {
            if byte == 0x20 { text += [0xE2, 0x96, 0x81] } else { text.append(byte) }
        }
        guard !text.isEmpty else { return }

        // One symbol per character: start offset and length in bytes.
        var start: [Int32] = [], length: [Int32] = []
        var i = 0
        while i < text.count {
            let b = text[i]
            let n = min(b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4, text.count - i)
            start.append(Int32(i)); length.append(Int32(n))
            i += n
        }
        let count = start.count
        var next = (0..<count).map { Int32($0 + 1 < count ? $0 + 1 : -1) }
        var prev = (0..<count).map { Int32($0 - 1) }
        var queue = MergeQueue<Candidate>()

        text.withUnsafeBufferPointer { bytes in
            func token(_ from: Int32, _ size: Int32) -> TokenID? {
                guard size <= longestToken else { return nil }
                return tokenIDs.id(UnsafeBufferPointer(rebasing: bytes[Int(from)..<Int(from + size)]))
            }
            func consider(_ l: Int32, _ r: Int32) {
                guard l >= 0, r >= 0 else { return }
                let size = length[Int(l)] + length[Int(r)]
                guard let id = token(start[Int(l)], size) else { return }
                queue.push(Candidate(score: scores[Int(id)], left: l, right: r, size: size))
            }

            for k in 1..<max(count, 1) { consider(Int32(k - 1), Int32(k)) }
            while let c = queue.pop() {
                let l = Int(c.left), r = Int(c.right)
                // Stale: a side merged since (symbols only ever grow rightwards).
                guard length[l] > 0, length[r] > 0, length[l] + length[r] == c.size else { continue }
                length[l] += length[r]
                length[r] = 0
                next[l] = next[r]
                if next[r] >= 0 { prev[Int(next[r])] = Int32(l) }
                consider(prev[l], Int32(l))
                consider(Int32(l), next[l])
            }

            var k: Int32 = 0
            while k >= 0 {
                let s = Int(k)
                if let id = token(start[s], length[s]) {
                    out.append(id)
                } else {
                    for byte in bytes[Int(start[s])..<Int(start[s] + length[s])] {
                        if let id = byteTokens[Int(byte)] { out.append(id) }
                    }
                }
                k = next[s]
            }
        }
    }
}
