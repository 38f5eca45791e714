/// Llama and the families converted to its layout (Mistral, SmolLM):
/// pre-norm blocks with RMSNorm, grouped-query attention with RoPE on
/// adjacent pairs (the converter permutes q/k rows), SwiGLU feed-forward.
enum Llama: Architecture {
    static let names = ["llama", "mistral", "smollm"]

    struct Layer: LayerTensors {
        let attentionNorm: [Float]
        let attention: AttentionWeights
        let feedForwardNorm: [Float]
        let feedForward: FeedForwardWeights

        var matrices: [Linear] { attention.matrices + feedForward.matrices }
        var normFloats: Int { attentionNorm.count + feedForwardNorm.count }
    }

    static func configure(_ config: inout ModelConfig, _ keys: ModelKeys) throws(ModelError) {}

    static func layer(_ i: Int, _ t: TensorLoader) throws(ModelError) -> Layer {
        Layer(attentionNorm: try t.norm(i, "attn_norm"), attention: try t.attention(i, bias: .ifPresent),
              feedForwardNorm: try t.norm(i, "ffn_norm"), feedForward: try t.feedForward(i))
    }

    static func block(_ w: Layer, index: Int, _ step: ForwardStep) {
        step.norm(w.attentionNorm)
        step.queryKeyValue(w.attention)
        step.attend(layer: index)
        step.project(w.attention.output)
        step.addAndNorm(w.feedForwardNorm)
        step.feedForward(w.feedForward, .silu)
        step.addResidual()
    }
}
