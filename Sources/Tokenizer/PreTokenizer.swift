/// How a `gpt2` (byte-level BPE) vocabulary cuts text into words before the
/// merges run, as `tokenizer.ggml.pre` names it. llama.cpp describes each one
/// as a list of regexes applied in turn (each splits every piece the previous
/// one produced, keeping unmatched gaps as pieces); these are hand-written
/// scanners with the same results, over Unicode scalars.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    case gpt2
    /// Every \p{N} alone, then `gpt2` (SmolLM, StarCoder and friends).
    case smollm
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// Qwen2: the Llama 3 pattern with single digits (`\p{N}`).
    case qwen2
    /// llama.cpp's fallback when the file names none: punctuation runs, then
    /// `gpt2`, then number runs, then ASCII digit triples.
    case `default`

    /// Maps `tokenizer.ggml.pre` to a scanner. The aliases are those llama.cpp
    /// gives the same regexes.
    public init?(name: String) {
        switch name {
        case "", "default":
            self = .default
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
             "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4",
             "jina-v1-en", "jina-v2-code", "roberta-bpe":
            self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2":
            self = .smollm
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
             "jina-v5-nano", "dbrx", "smaug-bpe", "glm4", "chatglm-bpe":
            self = .llama3
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "stablelm2", "hunyuan", "solar-open", "megrez":
            self = .qwen2
        default:
            return nil
        }
    }

    /// llama.cpp's per-name defaults that go with the regexes: Llama-3 style
    /// vocabularies take a whole word that is itself a token without merging
    /// (`ignore_merges`), and add BOS unless the file says otherwise.
    static func ignoresMerges(name: String) -> Bool {
        ["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
         "jina-v5-nano"].contains(name)
    }

    static func addsBOSByDefault(name: String) -> Bool { ignoresMerges(name: name) }

    /// The words `text` is cut into (for tests and debugging; `encode` works
    /// on offsets).
    public func words(_ text: String) -> [String] {
        let scalars = text.unicodeScalars.map(\.value)
        let classes = scalars.map { ScalarClass.of($0).rawValue }
        let ends = scalars.withUnsafeBufferPointer { s in classes.withUnsafeBufferPointer { split(s, $0) } }
        var start = 0
        return ends.map { end in
            defer { start = end }
            var word = String.UnicodeScalarView()
            for v in scalars[start..<end] { word.append(Unicode.Scalar(v)!) }
            return String(word)
        }
    }

    /// Splits `scalars` into words; returns each word's end offset.
    func split(_ scalars: UnsafeBufferPointer<UInt32>, _ classes: UnsafeBufferPointer<UInt8>) -> [Int] {
        var scanner = WordScanner(scalars: scalars, classes: classes)
        var pieces = [scalars.count]
        switch self {
        case .gpt2:
            pieces = scanner.apply(pieces) { s, lo, hi in s.gpt2(lo, hi) }
        case .smollm:
            pieces = scanner.apply(pieces) { s, lo, hi in s.runs(lo, hi, maxLength: 1) { $1.contains(.number) } }
            pieces = scanner.apply(pieces) { s, lo, hi in s.gpt2(lo, hi) }
        case .llama3:
            pieces = scanner.apply(pieces) { s, lo, hi in s.llama3(lo, hi, maxDigits: 3) }
        case .qwen2:
            pieces = scanner.apply(pieces) { s, lo, hi in s.llama3(lo, hi, maxDigits: 1) }
        case .default:
            pieces = scanner.apply(pieces) { s, lo, hi in
                s.runs(lo, hi, maxLength: .max) { scalar, c in
                    c.contains(.punctuation) || "$+<=>^~|".unicodeScalars.contains { $0.value == scalar }
                }
            }
            pieces = scanner.apply(pieces) { s, lo, hi in s.gpt2(lo, hi) }
            pieces = scanner.apply(pieces) { s, lo, hi in s.runs(lo, hi, maxLength: .max) { $1.contains(.number) } }
            pieces = scanner.apply(pieces) { s, lo, hi in s.asciiDigitTriples(lo, hi) }
        }
        return pieces
    }
}

/// One pass over a piece [lo, hi) of the scalars. Positions outside the piece
/// read as "nothing": lookaheads such as `(?!\S)` stop at the piece's edge,
/// as they do when a regex runs on each piece separately.
struct WordScanner {
    let scalars: UnsafeBufferPointer<UInt32>
    let classes: UnsafeBufferPointer<UInt8>
    private var lo = 0, hi = 0
    private var lastEnd = 0
    private var ends: [Int] = []

    init(scalars: UnsafeBufferPointer<UInt32>, classes: UnsafeBufferPointer<UInt8>) {
        self.scalars = scalars
        self.classes = classes
    }

    /// Runs `scan` over every piece; returns the new piece ends.
    mutating func apply(_ pieces: [Int], _ scan: (inout WordScanner, Int, Int) -> Void) -> [Int] {
        ends = []
        ends.reserveCapacity(pieces.count * 2)
        var start = 0
        for end in pieces {
            lo = start; hi = end; lastEnd = start
            scan(&self, start, end)
            cut(end)  // whatever the scan left unmatched is a piece of its own
            start = end
        }
        return ends
    }

    /// Ends a word at `end` (empty words are dropped).
    @inline(__always)
    mutating func cut(_ end: Int) {
        if end > lastEnd { ends.append(end); lastEnd = end }
    }

    @inline(__always)
    func inPiece(_ i: Int) -> Bool { i >= lo && i < hi }

    @inline(__always)
    func has(_ i: Int, _ c: ScalarClass) -> Bool {
        inPiece(i) && ScalarClass(rawValue: classes[i]).contains(c)
    }

    @inline(__always)
    func scalar(_ i: Int) -> UInt32 { inPiece(i) ? scalars[i] : .max }

    /// [^\s\p{L}\p{N}] inside the piece
    @inline(__always)
    func isOther(_ i: Int) -> Bool {
        inPiece(i) && ScalarClass(rawValue: classes[i]).isDisjoint(with: [.whitespace, .letter, .number])
    }

    /// 's 't 'm 'd 're 've 'll after an apostrophe at `i`; returns the match length.
    func contraction(at i: Int, caseInsensitive: Bool) -> Int {
        guard scalar(i) == 0x27, inPiece(i + 1) else { return 0 }
        func lower(_ c: UInt32) -> UInt32 { caseInsensitive && c >= 0x41 && c <= 0x5A ? c + 32 : c }
        let a = lower(scalar(i + 1))
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }  // s t m d
        guard inPiece(i + 2) else { return 0 }
        let b = lower(scalar(i + 2))
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }  // re ve ll
        return 0
    }

    /// Whitespace rules shared by both patterns, from a whitespace run at
    /// `pos`: `\s+(?!\S)` leaves the last space of a run for the next word;
    /// `\s+` takes a run that ends the piece. Returns the new position.
    func whitespaceRun(_ pos: Int, keepNewlines: Bool) -> Int {
        var n = 0
        var afterNewline = 0
        while has(pos + n, .whitespace) {
            if keepNewlines, scalars[pos + n] == 0x0A || scalars[pos + n] == 0x0D { afterNewline = pos + n + 1 }
            n += 1
        }
        if afterNewline > 0 { return afterNewline }     // \s*[\r\n]+
        if n > 1 && inPiece(pos + n) { return pos + n - 1 }  // \s+(?!\S)
        if n > 0 { return pos + n }                    // \s+
        return pos + 1                                 // no rule matched: one scalar alone
    }

    mutating func gpt2(_ lo: Int, _ hi: Int) {
        var pos = lo
        while pos < hi {
            let c = scalars[pos]
            let n = contraction(at: pos, caseInsensitive: false)
            if n > 0 { pos += n; cut(pos); continue }
            // " ?X+": an optional space, then a run of one class
            let head = c == 0x20 ? pos + 1 : pos
            if has(head, .letter) {
                pos = head
                while has(pos, .letter) { pos += 1 }
            } else if has(head, .number) {
                pos = head
                while has(pos, .number) { pos += 1 }
            } else if isOther(head) {
                pos = head
                while isOther(pos) { pos += 1 }
            } else {
                pos = whitespaceRun(pos, keepNewlines: false)
            }
            cut(pos)
        }
    }

    mutating func llama3(_ lo: Int, _ hi: Int, maxDigits: Int) {
        var pos = lo
        while pos < hi {
            let c = scalars[pos]
            let n = contraction(at: pos, caseInsensitive: true)
            if n > 0 { pos += n; cut(pos); continue }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if c != 0x0D && c != 0x0A && !has(pos, .number) && (has(pos, .letter) || has(pos + 1, .letter)) {
                pos += 1
                while has(pos, .letter) { pos += 1 }
                cut(pos)
                continue
            }
            // \p{N}{1,maxDigits}
            if has(pos, .number) {
                var start = pos
                while has(pos, .number) {
                    pos += 1
                    if pos - start >= maxDigits { cut(pos); start = pos }
                }
                cut(pos)
                continue
            }
            // " ?[^\s\p{L}\p{N}]+[\r\n]*"
            let head = c == 0x20 ? pos + 1 : pos
            if !(has(head, .whitespace) || has(head, .letter) || has(head, .number)) {
                pos = head
                while isOther(pos) { pos += 1 }
                while scalar(pos) == 0x0D || scalar(pos) == 0x0A { pos += 1 }
                cut(pos)
                continue
            }
            pos = whitespaceRun(pos, keepNewlines: true)
            cut(pos)
        }
    }

    /// Maximal runs of scalars that pass `test`, at most `maxLength` long;
    /// the text between them stays as pieces.
    mutating func runs(_ lo: Int, _ hi: Int, maxLength: Int, _ test: (UInt32, ScalarClass) -> Bool) {
        func passes(_ i: Int) -> Bool { test(scalars[i], ScalarClass(rawValue: classes[i])) }
        var pos = lo
        while pos < hi {
            guard passes(pos) else { pos += 1; continue }
            cut(pos)
            let start = pos
            while pos < hi && pos - start < maxLength && passes(pos) { pos += 1 }
            cut(pos)
        }
    }

    /// `[0-9][0-9][0-9]`, leftmost first.
    mutating func asciiDigitTriples(_ lo: Int, _ hi: Int) {
        func digit(_ i: Int) -> Bool { scalars[i] >= 0x30 && scalars[i] <= 0x39 }
        var pos = lo
        while pos + 3 <= hi {
            if digit(pos) && digit(pos + 1) && digit(pos + 2) {
                cut(pos); pos += 3; cut(pos)
            } else {
                pos += 1
            }
        }
    }
}
