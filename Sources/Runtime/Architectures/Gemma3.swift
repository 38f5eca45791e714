/// Gemma 3 (text): embeddings scaled by √width; RMSNorm on each query and
/// key head (QK-norm) before NEOX RoPE; norms after attention and after the
/// feed-forward as well as before; GELU(tanh)-gated feed-forward; tied
/// output. Layers alternate: five sliding-window layers (local RoPE base
/// 10,000) then one global layer, as llama.cpp applies it.
enum Gemma3: Architecture {
    static let names = ["gemma3"]

    struct Layer: LayerTensors {
        let attentionNorm: [Float]
        let attention: AttentionWeights
        let queryNorm: [Float]              // [headDim], shared by every query head
        let keyNorm: [Float]                // [headDim]
        let postAttentionNorm: [Float]
        let feedForwardNorm: [Float]
        let feedForward: FeedForwardWeights
        let postFeedForwardNorm: [Float]

        var matrices: [Linear] { attention.matrices + feedForward.matrices }
        var normFloats: Int {
            [attentionNorm, queryNorm, keyNorm, postAttentionNorm, feedForwardNorm, postFeedForwardNorm].reduce(0) { $0 + $1.count }
        }
    }

    static func configure(_ c: inout ModelConfig, _ keys: ModelKeys) throws(ModelError) {
        c.ropeStyle = .halves
        c.embeddingScale = Float(c.embeddingLength).squareRoot()
        // Gemma 3 27B (62 layers) scales by width ÷ heads, the others by the head size (gemma_pytorch's config).
        if c.layerCount == 62 { c.attentionScale = 1 / Float(c.embeddingLength / c.headCount).squareRoot() }
        guard let window = keys.int("attention.sliding_window") else {
            // Without a window llama.cpp runs another graph (final logit soft-capping); no such file is known.
            throw .inconsistent("gemma3 without attention.sliding_window is not supported")
        }
        let localBase = keys.float("rope.freq_base_swa") ?? 10_000
        let isLocal: [Bool]
        if let flags = keys.value("attention.sliding_window_pattern")?.array {
            isLocal = flags.map { $0.bool ?? ($0.int.map { $0 != 0 } ?? false) }
        } else {
            let period = keys.int("attention.sliding_window_pattern") ?? 6
            isLocal = (0..<c.layerCount).map { $0 % period < period - 1 }
        }
        guard isLocal.count == c.layerCount else { throw .inconsistent("sliding_window_pattern has \(isLocal.count) layers") }
        for (l, local) in isLocal.enumerated() where local {
            c.layers[l] = ModelConfig.LayerAttention(ropeBase: localBase, window: window)
        }
    }

    static func layer(_ i: Int, _ t: TensorLoader) throws(ModelError) -> Layer {
        let head = t.config.headDimension
        return Layer(attentionNorm: try t.norm(i, "attn_norm"), attention: try t.attention(i, bias: .none),
                     queryNorm: try t.norm(i, "attn_q_norm", length: head), keyNorm: try t.norm(i, "attn_k_norm", length: head),
                     postAttentionNorm: try t.norm(i, "post_attention_norm"), feedForwardNorm: try t.norm(i, "ffn_norm"),
                     feedForward: try t.feedForward(i), postFeedForwardNorm: try t.norm(i, "post_ffw_norm"))
    }

    static func block(_ w: Layer, index: Int, _ step: ForwardStep) {
        step.norm(w.attentionNorm)
        step.queryKeyValue(w.attention)
        step.headNorms(query: w.queryNorm, key: w.keyNorm)
        step.attend(layer: index)
        step.project(w.attention.output)
        step.normOutput(w.postAttentionNorm)
        step.addAndNorm(w.feedForwardNorm)
        step.feedForward(w.feedForward, .geluTanh)
        step.normOutput(w.postFeedForwardNorm)
        step.addResidual()
    }
}
