import GGUF

/// Why a model could not be loaded or run.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case file(GGUFError)
    case missingMetadata(String)
    case unsupportedArchitecture(String)
    case missingTensor(String)
    case wrongShape(tensor: String, expected: [Int], found: [Int])
    case inconsistent(String)
    case contextFull(capacity: Int)

    public var description: String {
        switch self {
        case .file(let e): e.description
        case .missingMetadata(let key): "model file lacks metadata key '\(key)'"
        case .unsupportedArchitecture(let a): "unsupported model architecture '\(a)' (supported: \(Architectures.names.joined(separator: ", ")))"
        case .missingTensor(let name): "model file has no tensor '\(name)'"
        case .wrongShape(let name, let expected, let found): "tensor '\(name)' has shape \(found), expected \(expected)"
        case .inconsistent(let why): "inconsistent model hyper-parameters: \(why)"
        case .contextFull(let capacity): "sequence exceeds its KV cache capacity of \(capacity) tokens"
        }
    }
}
