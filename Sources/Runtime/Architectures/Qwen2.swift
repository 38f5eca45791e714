/// Qwen2 and Qwen2.5: the llama block with biases on q, k and v and RoPE
/// on NEOX-style pairs (i with i + d/2).
enum Qwen2: Architecture {
    static let names = ["qwen2"]

    typealias Layer = Llama.Layer

    static func configure(_ config: inout ModelConfig, _ keys: ModelKeys) throws(ModelError) {
        config.ropeStyle = .halves
    }

    static func layer(_ i: Int, _ t: TensorLoader) throws(ModelError) -> Layer {
        Layer(attentionNorm: try t.norm(i, "attn_norm"), attention: try t.attention(i, bias: .required),
              feedForwardNorm: try t.norm(i, "ffn_norm"), feedForward: try t.feedForward(i))
    }

    static func block(_ w: Layer, index: Int, _ step: ForwardStep) { Llama.block(w, index: index, step) }
}
