import Foundation
import GGUF
import Tokenizer

/// Paths inside the repository, found from this file's location.
enum Repo {
    /// The `Tests/` directory.
    static let tests: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.lastPathComponent != "Tests" && url.path != "/" { url.deleteLastPathComponent() }
        return url
    }()
    static let root = tests.deletingLastPathComponent()
    static let defaultModel = root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    static let tokenizerFixtures = tests.appendingPathComponent("Fixtures/tokenizer")
}

/// The default model's tokenizer, loaded once for all tests (nil when the
/// model has not been fetched; `scripts/fetch-model` gets it).
let smolLM2: Tokenizer? = {
    guard FileManager.default.fileExists(atPath: Repo.defaultModel.path) else { return nil }
    return try? Tokenizer(gguf: GGUFFile(path: Repo.defaultModel.path))
}()

/// A byte-level BPE vocabulary small enough to reason about: the 256 byte
/// characters, a few merges, and special tokens of each kind.
func tinyBPE(pre: String = "gpt-2") throws -> Tokenizer {
    let bytes = (0..<256).map { String(UnicodeScalar(byteLevelScalar($0))!) }
    let merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld", "Ġ Ġ"]
    let merged = merges.map { $0.replacingOccurrences(of: " ", with: "") }
    let specials = ["<|im_start|>", "<|im_end|>", "<tool>"]
    let tokens = bytes + merged + specials
    let types = [Int32](repeating: 1, count: bytes.count + merged.count) + [3, 3, 4]
    return try Tokenizer(vocabulary: Vocabulary(
        model: .gpt2, tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: pre,
        bosID: TokenID(tokens.count - 3), eosID: TokenID(tokens.count - 2)))
}

/// GPT-2's byte -> scalar table, written out independently of the library's.
func byteLevelScalar(_ byte: Int) -> UInt32 {
    let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    if printable { return UInt32(byte) }
    let rank = (0..<byte).filter { !((0x21...0x7E).contains($0) || (0xA1...0xAC).contains($0) || (0xAE...0xFF).contains($0)) }.count
    return 256 + UInt32(rank)
}

/// A SentencePiece vocabulary: <unk> <s> </s>, the 256 byte tokens, and a
/// few scored pieces.
func tinySPM() throws -> Tokenizer {
    var tokens = ["<unk>", "<s>", "</s>"]
    var types: [Int32] = [2, 3, 3]
    var scores: [Float] = [0, 0, 0]
    for b in 0..<256 {
        tokens.append(String(format: "<0x%02X>", b)); types.append(6); scores.append(0)
    }
    let pieces: [(String, Float)] = [("▁", -1), ("h", -2), ("e", -2), ("l", -2), ("o", -2), ("w", -2), ("r", -2),
                                     ("d", -2), ("▁h", -3), ("ll", -3), ("▁he", -4), ("llo", -4), ("▁hello", -5),
                                     ("▁w", -3), ("or", -3), ("ld", -3), ("▁wor", -4), ("▁world", -5), ("日", -6)]
    for (p, s) in pieces { tokens.append(p); types.append(1); scores.append(s) }
    return try Tokenizer(vocabulary: Vocabulary(model: .llama, tokens: tokens, scores: scores, tokenTypes: types))
}
