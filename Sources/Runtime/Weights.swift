import GGUF

/// All weights of a model, named as llama.cpp's converter names them: the
/// embedding, the family's blocks, and the output head.
struct Weights {
    let tokenEmbedding: Linear      // vocab rows of dim
    let blocks: any BlockStack
    let outputNorm: [Float]         // [dim]
    let output: Linear              // dim → vocab; the embedding itself when tied

    init(file: GGUFFile, config c: ModelConfig, precision: Precision) throws(ModelError) {
        guard let family = Architectures.named(c.architecture) else { throw .unsupportedArchitecture(c.architecture) }
        let tensors = TensorLoader(file: file, config: c, precision: precision)
        tokenEmbedding = try tensors.linear("token_embd", c.embeddingLength, c.vocabularySize)
        blocks = try family.loadBlocks(tensors)
        outputNorm = try tensors.vector("output_norm.weight", c.embeddingLength)
        output = file.tensor(named: "output.weight") == nil
            ? tokenEmbedding : try tensors.linear("output", c.embeddingLength, c.vocabularySize)
    }

    var linears: [Linear] { blocks.matrices + [output] }
}
