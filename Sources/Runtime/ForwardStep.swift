import CKernels

/// The shared operations a family's block is written with (`Architecture.block`),
/// over one forward step's rows. Buffers are the step's `Scratch`: the
/// residual stream `x`, the sublayer input/output `h`, q/k/v, the attention
/// output, and the feed-forward's gate and up rows.
struct ForwardStep {
    let model: Model
    let batch: [SequenceInput]
    let layout: RowLayout
    let scratch: Scratch

    enum Activation { case silu, geluTanh }

    /// h = rmsNorm(x)
    func norm(_ weight: [Float]) { eachRow(.norm(weight)) }

    /// h = rmsNorm(h): a norm on a sublayer's output (Gemma's post-norms).
    func normOutput(_ weight: [Float]) { eachRow(.normOutput(weight)) }

    /// x += h, then h = rmsNorm(x)
    func addAndNorm(_ weight: [Float]) { eachRow(.addAndNorm(weight)) }

    /// x += h
    func addResidual() { eachRow(.addResidual) }

    /// q, k, v = h·Wᵀ (+ bias), in one pool handoff.
    func queryKeyValue(_ w: AttentionWeights) {
        let s = scratch
        Linear.apply(s.h, layout: layout, (w.query, s.q), (w.key, s.k), (w.value, s.v), scratch: s.linear)
    }

    /// RMSNorm on each query head and each key head (QK-norm).
    func headNorms(query: [Float], key: [Float]) { eachRow(.headNorms(query: query, key: key)) }

    /// RoPE, the keys and values into each sequence's cache, and attention into `s.attention`.
    func attend(layer: Int) { model.attention(batch, layout: layout, layer: layer, scratch) }

    /// h = attention · Wᵀ
    func project(_ output: Linear) {
        output.apply(scratch.attention, layout: layout, into: scratch.h, scratch: scratch.linear)
    }

    /// h = down(activation(gate(h)) · up(h))
    func feedForward(_ w: FeedForwardWeights, _ activation: Activation) {
        let s = scratch
        Linear.apply(s.h, layout: layout, (w.gate, s.gate), (w.up, s.up), scratch: s.linear)
        eachRow(activation == .silu ? .swiglu : .geglu)
        w.down.apply(s.gate, layout: layout, into: s.h, scratch: s.linear)
    }

    /// Runs a row-wise step on every row, the rows split over the worker pool
    /// when there are several (rows are independent, so the split changes no result).
    private func eachRow(_ operation: RowStep.Operation) {
        let step = RowStep(operation: operation, rows: layout.rowCount, config: model.config, scratch: scratch)
        if layout.rowCount == 1 { step.run(part: 0, of: 1) } else { WorkerPool.shared.run(step) }
    }
}

/// A row-wise piece of a block over the step's rows (`Ops`).
struct RowStep: PoolJob {
    enum Operation {
        /// h = rmsNorm(x)
        case norm([Float])
        /// h = rmsNorm(h)
        case normOutput([Float])
        /// x += h, then h = rmsNorm(x)
        case addAndNorm([Float])
        /// each head of q and of k = rmsNorm(head)
        case headNorms(query: [Float], key: [Float])
        /// gate = silu(gate) · up
        case swiglu
        /// gate = gelu_tanh(gate) · up
        case geglu
        /// x += h
        case addResidual
    }

    let operation: Operation, rows: Int, config: ModelConfig, scratch: Scratch

    func run(part: Int, of parts: Int) {
        let s = scratch, c = config, dim = c.embeddingLength, ffn = c.feedForwardLength, epsilon = c.rmsEpsilon
        for i in WorkerPool.slice(rows, part: part, of: parts) {
            switch operation {
            case .norm(let weight): Ops.rmsNorm(s.x + i * dim, weight: weight, epsilon: epsilon, into: s.h + i * dim)
            case .normOutput(let weight): Ops.rmsNorm(s.h + i * dim, weight: weight, epsilon: epsilon, into: s.h + i * dim)
            case .addAndNorm(let weight): Ops.rmsNorm(s.x + i * dim, adding: s.h + i * dim, weight: weight, epsilon: epsilon, into: s.h + i * dim)
            case .headNorms(let query, let key):
                let hd = c.headDimension
                for h in 0..<c.headCount { Ops.rmsNorm(s.q + i * c.queryDimension + h * hd, weight: query, epsilon: epsilon, into: s.q + i * c.queryDimension + h * hd) }
                for h in 0..<c.kvHeadCount { Ops.rmsNorm(s.k + i * c.kvDimension + h * hd, weight: key, epsilon: epsilon, into: s.k + i * c.kvDimension + h * hd) }
            case .swiglu: wafer_swiglu(s.gate + i * ffn, s.up + i * ffn, Int32(ffn))
            case .geglu: wafer_geglu(s.gate + i * ffn, s.up + i * ffn, Int32(ffn))
            case .addResidual: for j in 0..<dim { s.x[i * dim + j] += s.h[i * dim + j] }
            }
        }
    }
}
