import GGUF

/// A model family, in one file: the hyper-parameters it reads beyond the
/// shared ones, the tensors of its block (optional ones marked), and the
/// block itself written with `ForwardStep`'s shared operations, as
/// llama.cpp's `src/models/*.cpp` do. Adding a family is adding a file and
/// its line in `Architectures.all`.
protocol Architecture {
    associatedtype Layer: LayerTensors
    /// The `general.architecture` values it runs.
    static var names: [String] { get }
    /// Sets what is the family's own (RoPE style, per-layer attention, scales).
    static func configure(_ config: inout ModelConfig, _ keys: ModelKeys) throws(ModelError)
    /// One block's tensors.
    static func layer(_ index: Int, _ tensors: TensorLoader) throws(ModelError) -> Layer
    /// One block over the step's rows: reads the residual stream `x` and leaves its output there.
    static func block(_ layer: Layer, index: Int, _ step: ForwardStep)
}

/// What the runtime needs to know of a block's tensors besides running it.
protocol LayerTensors {
    var matrices: [Linear] { get }
    /// Floats of its norm weights (read once per decoded token).
    var normFloats: Int { get }
}

enum Architectures {
    static var all: [any Architecture.Type] { [Llama.self, Qwen2.self, Gemma3.self] }
    static var names: [String] { all.flatMap { $0.names } }
    static func named(_ name: String) -> (any Architecture.Type)? { all.first { $0.names.contains(name) } }
}

/// The blocks of a loaded model, whatever its family.
protocol BlockStack {
    var matrices: [Linear] { get }
    var normFloats: Int { get }
    func run(_ step: ForwardStep)
}

struct Blocks<Family: Architecture>: BlockStack {
    let layers: [Family.Layer]

    var matrices: [Linear] { layers.flatMap(\.matrices) }
    var normFloats: Int { layers.reduce(0) { $0 + $1.normFloats } }

    func run(_ step: ForwardStep) {
        // Through a buffer pointer: this runs unspecialised (the family is only known at run
        // time), where an array's subscript allocates a coroutine frame per element read.
        layers.withUnsafeBufferPointer { layers in
            for index in layers.indices { Family.block(layers[index], index: index, step) }
        }
    }
}

extension Architecture {
    static func loadBlocks(_ tensors: TensorLoader) throws(ModelError) -> any BlockStack {
        var layers: [Layer] = []
        for i in 0..<tensors.config.layerCount { layers.append(try layer(i, tensors)) }
        return Blocks<Self>(layers: layers)
    }
}

/// Reads tensors by llama.cpp's names, checking their shapes.
struct TensorLoader {
    let file: GGUFFile
    let config: ModelConfig
    let precision: Precision

    enum Bias { case none, ifPresent, required }

    func linear(_ name: String, _ inputs: Int, _ outputs: Int, bias: Bias = .none) throws(ModelError) -> Linear {
        if bias == .required, file.tensor(named: name + ".bias") == nil { throw .missingTensor(name + ".bias") }
        return try Linear(file: file, name: name + ".weight", inputs: inputs, outputs: outputs, precision: precision,
                          biasName: bias == .none ? nil : name + ".bias")
    }

    func vector(_ name: String, _ length: Int) throws(ModelError) -> [Float] {
        guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
        guard t.shape == [length] else { throw .wrongShape(tensor: name, expected: [length], found: t.shape) }
        return file.floats(of: t)
    }

    /// `blk.<i>.<name>.weight`: a layer's norm weight over the model width.
    func norm(_ layer: Int, _ name: String, length: Int? = nil) throws(ModelError) -> [Float] {
        try vector("blk.\(layer).\(name).weight", length ?? config.embeddingLength)
    }

    /// The four attention matrices of layer `i`.
    func attention(_ i: Int, bias: Bias) throws(ModelError) -> AttentionWeights {
        let c = config, p = "blk.\(i)."
        return AttentionWeights(query: try linear(p + "attn_q", c.embeddingLength, c.queryDimension, bias: bias),
                                key: try linear(p + "attn_k", c.embeddingLength, c.kvDimension, bias: bias),
                                value: try linear(p + "attn_v", c.embeddingLength, c.kvDimension, bias: bias),
                                output: try linear(p + "attn_output", c.queryDimension, c.embeddingLength))
    }

    /// The gated feed-forward matrices of layer `i`.
    func feedForward(_ i: Int) throws(ModelError) -> FeedForwardWeights {
        let c = config, p = "blk.\(i)."
        return FeedForwardWeights(gate: try linear(p + "ffn_gate", c.embeddingLength, c.feedForwardLength),
                                  up: try linear(p + "ffn_up", c.embeddingLength, c.feedForwardLength),
                                  down: try linear(p + "ffn_down", c.feedForwardLength, c.embeddingLength))
    }
}

struct AttentionWeights {
    let query: Linear               // dim → heads·headDim
    let key: Linear                 // dim → kvHeads·headDim
    let value: Linear               // dim → kvHeads·headDim
    let output: Linear              // heads·headDim → dim
    var matrices: [Linear] { [query, key, value, output] }
}

struct FeedForwardWeights {
    let gate: Linear                // dim → ffn
    let up: Linear                  // dim → ffn
    let down: Linear                // ffn → dim
    var matrices: [Linear] { [gate, up, down] }
}
