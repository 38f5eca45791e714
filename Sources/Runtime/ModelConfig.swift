import GGUF

/// The hyper-parameters of a llama-family model, read from the file's
/// `<architecture>.*` metadata keys.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var layerCount: Int
    public var embeddingLength: Int       // model width
    public var feedForwardLength: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDimension: Int
    public var vocabularySize: Int
    public var contextLength: Int
    public var ropeDimension: Int
    public var ropeBase: Float
    public var ropeStyle: RopeStyle
    public var rmsEpsilon: Float

    /// How RoPE pairs the elements of a head: llama files are converted with
    /// q/k rows permuted so that adjacent elements pair; Qwen2 pairs i with i + d/2.
    public enum RopeStyle: Sendable, Equatable { case adjacent, halves }

    static let supportedArchitectures = ["llama", "mistral", "qwen2", "smollm"]

    public var kvDimension: Int { kvHeadCount * headDimension }
    public var queryDimension: Int { headCount * headDimension }

    public init(file: GGUFFile) throws(ModelError) {
        guard let arch = file.metadata["general.architecture"]?.string else { throw .missingMetadata("general.architecture") }
        guard Self.supportedArchitectures.contains(arch) else { throw .unsupportedArchitecture(arch) }
        func int(_ key: String) throws(ModelError) -> Int {
            guard let v = file.metadata["\(arch).\(key)"]?.int, v > 0 else { throw .missingMetadata("\(arch).\(key)") }
            return v
        }
        architecture = arch
        layerCount = try int("block_count")
        embeddingLength = try int("embedding_length")
        feedForwardLength = try int("feed_forward_length")
        headCount = try int("attention.head_count")
        kvHeadCount = (try? int("attention.head_count_kv")) ?? headCount
        headDimension = (try? int("attention.key_length")) ?? embeddingLength / headCount
        contextLength = try int("context_length")
        ropeDimension = (try? int("rope.dimension_count")) ?? headDimension
        ropeBase = Float(file.metadata["\(arch).rope.freq_base"]?.double ?? 10_000)
        rmsEpsilon = Float(file.metadata["\(arch).attention.layer_norm_rms_epsilon"]?.double ?? 1e-5)
        ropeStyle = arch == "qwen2" ? .halves : .adjacent
        let embedding = try file.requireTensorShape("token_embd.weight")
        vocabularySize = embedding.count == 2 ? embedding[1] : 0
        guard headCount % kvHeadCount == 0, headDimension % 2 == 0, ropeDimension <= headDimension,
              embedding.first == embeddingLength, vocabularySize > 0
        else { throw .inconsistent("head counts, head size or embedding shape do not fit together") }
    }
}

extension GGUFFile {
    fileprivate func requireTensorShape(_ name: String) throws(ModelError) -> [Int] {
        guard let t = tensor(named: name) else { throw .missingTensor(name) }
        return t.shape
    }
}
