import GGUF

/// The tensors of one transformer block.
struct LayerWeights {
    let attentionNorm: [Float]      // [dim]
    let query: Linear               // dim → heads·headDim
    let key: Linear                 // dim → kvHeads·headDim
    let value: Linear               // dim → kvHeads·headDim
    let attentionOutput: Linear     // heads·headDim → dim
    let feedForwardNorm: [Float]    // [dim]
    let gate: Linear                // dim → ffn
    let up: Linear                  // dim → ffn
    let down: Linear                // ffn → dim
}

/// All weights of a llama-family model, named as llama.cpp's converter names them.
struct Weights {
    let tokenEmbedding: Linear      // vocab rows of dim
    let layers: [LayerWeights]
    let outputNorm: [Float]         // [dim]
    let output: Linear              // dim → vocab; the embedding itself when tied

    init(file: GGUFFile, config c: ModelConfig, precision: Precision) throws(ModelError) {
        func linear(_ name: String, _ inputs: Int, _ outputs: Int, bias: Bool = false) throws(ModelError) -> Linear {
            try Linear(file: file, name: name + ".weight", inputs: inputs, outputs: outputs, precision: precision,
                       biasName: bias ? name + ".bias" : nil)
        }
        func vector(_ name: String, _ length: Int) throws(ModelError) -> [Float] {
            guard let t = file.tensor(named: name) else { throw .missingTensor(name) }
            guard t.shape == [length] else { throw .wrongShape(tensor: name, expected: [length], found: t.shape) }
            return file.floats(of: t)
        }
        tokenEmbedding = try linear("token_embd", c.embeddingLength, c.vocabularySize)
        var layers: [LayerWeights] = []
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            layers.append(LayerWeights(
                attentionNorm: try vector(p + "attn_norm.weight", c.embeddingLength),
                query: try linear(p + "attn_q", c.embeddingLength, c.queryDimension, bias: true),
                key: try linear(p + "attn_k", c.embeddingLength, c.kvDimension, bias: true),
                value: try linear(p + "attn_v", c.embeddingLength, c.kvDimension, bias: true),
                attentionOutput: try linear(p + "attn_output", c.queryDimension, c.embeddingLength),
                feedForwardNorm: try vector(p + "ffn_norm.weight", c.embeddingLength),
                gate: try linear(p + "ffn_gate", c.embeddingLength, c.feedForwardLength),
                up: try linear(p + "ffn_up", c.embeddingLength, c.feedForwardLength),
                down: try linear(p + "ffn_down", c.feedForwardLength, c.embeddingLength)))
        }
        self.layers = layers
        outputNorm = try vector("output_norm.weight", c.embeddingLength)
        output = file.tensor(named: "output.weight") == nil
            ? tokenEmbedding : try linear("output", c.embeddingLength, c.vocabularySize)
    }

    var linears: [Linear] {
        layers.flatMap { [$0.query, $0.key, $0.value, $0.attentionOutput, $0.gate, $0.up, $0.down] } + [output]
    }
}
