/// Everything that can be wrong with a model file. Each case reads as one line.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case badMagic(found: UInt32)
    case unsupportedVersion(UInt32)
    case truncated(needed: Int, at: Int, fileSize: Int)
    case absurdSize(what: String, value: UInt64)
    case unknownValueType(key: String, raw: UInt32)
    case invalidUTF8(at: Int)
    case duplicateKey(String)
    case duplicateTensor(String)
    case unknownTensorType(tensor: String, raw: UInt32)
    case badShape(tensor: String, shape: [UInt64])
    case misalignedTensor(tensor: String, offset: UInt64, alignment: Int)
    case tensorOutOfBounds(tensor: String, end: UInt64, fileSize: Int)
    case badAlignment(UInt64)
    case missingTensor(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open model file \(path): \(reason)"
        case .badMagic(let found): "not a GGUF file (magic 0x\(String(found, radix: 16)), expected 0x46554747 'GGUF')"
        case .unsupportedVersion(let v): "unsupported GGUF version \(v) (supported: 2, 3)"
        case .truncated(let needed, let at, let size): "truncated GGUF file: needed \(needed) bytes at offset \(at), file has \(size)"
        case .absurdSize(let what, let value): "corrupt GGUF file: \(what) of \(value) is impossible"
        case .unknownValueType(let key, let raw): "corrupt GGUF file: metadata key '\(key)' has unknown value type \(raw)"
        case .invalidUTF8(let at): "corrupt GGUF file: string at offset \(at) is not valid UTF-8"
        case .duplicateKey(let key): "corrupt GGUF file: metadata key '\(key)' appears twice"
        case .duplicateTensor(let name): "corrupt GGUF file: tensor '\(name)' appears twice"
        case .unknownTensorType(let name, let raw): "tensor '\(name)' has unsupported type \(raw)\(GGMLType.knownName(raw).map { " (\($0))" } ?? "")"
        case .badShape(let name, let shape): "corrupt GGUF file: tensor '\(name)' has invalid shape \(shape)"
        case .misalignedTensor(let name, let offset, let alignment): "corrupt GGUF file: tensor '\(name)' offset \(offset) is not a multiple of \(alignment)"
        case .tensorOutOfBounds(let name, let end, let size): "truncated GGUF file: tensor '\(name)' ends at byte \(end), file has \(size)"
        case .badAlignment(let a): "corrupt GGUF file: general.alignment \(a) is not a power of two"
        case .missingTensor(let name): "model file has no tensor '\(name)'"
        }
    }
}
