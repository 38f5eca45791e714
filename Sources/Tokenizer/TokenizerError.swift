/// Why a tokenizer could not be built from a model file. Each reads as one line.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case missingKey(String)
    case wrongType(key: String, expected: String)
    case unsupportedModel(String)
    case unsupportedPreTokenizer(String)
    case invalidVocabulary(String)

    public var description: String {
        switch self {
        case .missingKey(let key): "model file has no tokenizer key '\(key)'"
        case .wrongType(let key, let expected): "tokenizer key '\(key)' is not \(expected)"
        case .unsupportedModel(let name): "unsupported tokenizer model '\(name)' (supported: gpt2, llama)"
        case .unsupportedPreTokenizer(let name):
            "unsupported pre-tokenizer '\(name)' (supported: default, gpt-2, smollm, llama-bpe, qwen2 and their aliases)"
        case .invalidVocabulary(let reason): "invalid tokenizer vocabulary: \(reason)"
        }
    }
}
