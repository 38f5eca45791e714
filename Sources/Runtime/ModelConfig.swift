import GGUF

/// The hyper-parameters of a decoder-only transformer: the keys every family
/// shares are read here from the file's `<architecture>.*` metadata, then the
/// family's file (`Architectures`) sets what is its own.
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
    public var ropeStyle: RopeStyle = .adjacent
    public var rmsEpsilon: Float
    /// Multiplies q·k before the softmax.
    public var attentionScale: Float
    /// Multiplies each token's embedding row (Gemma: √width).
    public var embeddingScale: Float = 1
    /// How each layer attends, in layer order.
    public var layers: [LayerAttention]

    /// How RoPE pairs the elements of a head: llama files are converted with
    /// q/k rows permuted so that adjacent elements pair; NEOX-style families
    /// (Qwen2, Gemma) pair i with i + d/2.
    public enum RopeStyle: Sendable, Equatable { case adjacent, halves }

    /// One layer's attention: its RoPE base, and how far back it sees.
    public struct LayerAttention: Sendable, Equatable {
        public var ropeBase: Float
        /// Positions a token attends to, itself included; nil: every earlier one.
        public var window: Int?
    }

    public var kvDimension: Int { kvHeadCount * headDimension }
    public var queryDimension: Int { headCount * headDimension }
    /// The distinct RoPE bases, in order of first use: one table each.
    public var ropeBases: [Float] { layers.reduce(into: []) { bases, l in if !bases.contains(l.ropeBase) { bases.append(l.ropeBase) } } }

    public init(file: GGUFFile) throws(ModelError) {
        guard let arch = file.metadata["general.architecture"]?.string else { throw .missingMetadata("general.architecture") }
        guard let family = Architectures.named(arch) else { throw .unsupportedArchitecture(arch) }
        let keys = ModelKeys(file: file, architecture: arch)
        architecture = arch
        layerCount = try keys.require("block_count")
        embeddingLength = try keys.require("embedding_length")
        feedForwardLength = try keys.require("feed_forward_length")
        headCount = try keys.require("attention.head_count")
        kvHeadCount = keys.int("attention.head_count_kv") ?? headCount
        headDimension = keys.int("attention.key_length") ?? embeddingLength / headCount
        contextLength = try keys.require("context_length")
        ropeDimension = keys.int("rope.dimension_count") ?? headDimension
        rmsEpsilon = keys.float("attention.layer_norm_rms_epsilon") ?? 1e-5
        attentionScale = 1 / Float(headDimension).squareRoot()
        layers = Array(repeating: LayerAttention(ropeBase: keys.float("rope.freq_base") ?? 10_000, window: nil), count: layerCount)
        let embedding = try file.requireTensorShape("token_embd.weight")
        vocabularySize = embedding.count == 2 ? embedding[1] : 0
        guard headCount % kvHeadCount == 0, headDimension % 2 == 0, ropeDimension <= headDimension,
              embedding.first == embeddingLength, vocabularySize > 0,
              keys.int("attention.value_length").map({ $0 == headDimension }) ?? true
        else { throw .inconsistent("head counts, head size or embedding shape do not fit together") }
        try family.configure(&self, keys)
    }
}

/// The file's `<architecture>.<key>` metadata.
struct ModelKeys {
    let file: GGUFFile
    let architecture: String

    func value(_ key: String) -> GGUFValue? { file.metadata["\(architecture).\(key)"] }
    func int(_ key: String) -> Int? { value(key)?.int.flatMap { $0 > 0 ? $0 : nil } }
    func float(_ key: String) -> Float? { value(key)?.double.map(Float.init) }

    func require(_ key: String) throws(ModelError) -> Int {
        guard let v = int(key) else { throw .missingMetadata("\(architecture).\(key)") }
        return v
    }
}

extension GGUFFile {
    fileprivate func requireTensorShape(_ name: String) throws(ModelError) -> [Int] {
        guard let t = tensor(named: name) else { throw .missingTensor(name) }
        return t.shape
    }
}
