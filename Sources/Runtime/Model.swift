import CBLAS
import GGUF

/// New tokens of one sequence for a forward step, appended to its cache.
public struct SequenceInput {
    public let cache: KVCache
    public let tokens: [Int32]
    public init(cache: KVCache, tokens: [Int32]) {
        self.cache = cache
        self.tokens = tokens
    }
}

/// A llama-family transformer resident in memory. One forward call runs every
/// layer for every sequence of the batch (no pipeline stages): the rows of all
/// sequences are stacked so each weight matrix is read once per step.
public final class Model: @unchecked Sendable {  // weights immutable; forward is called from one thread at a time
    public let config: ModelConfig
    public let precision: Precision
    let weights: Weights
    let rope: RopeTable
    let panelScratchCount: Int

    public init(file: GGUFFile, precision: Precision) throws(ModelError) {
        config = try ModelConfig(file: file)
        self.precision = precision
        weights = try Weights(file: file, config: config, precision: precision)
        rope = RopeTable(config: config)
        panelScratchCount = weights.linears.map(\.scratchCount).max() ?? 0
    }

    /// A cache for one sequence of at most `capacity` tokens (default: the model's context).
    public func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(config: config, capacity: min(capacity ?? config.contextLength, config.contextLength))
    }

    /// Runs the new tokens of every sequence and returns the logits of each
    /// sequence's last new token: [batch.count, vocabularySize], row-major.
    public func forward(_ batch: [SequenceInput]) throws(ModelError) -> [Float] {
        let c = config
        for s in batch where s.cache.length + s.tokens.count > s.cache.capacity {
            throw .contextFull(capacity: s.cache.capacity)
        }
        for s in batch { for t in s.tokens where t < 0 || Int(t) >= c.vocabularySize {
            throw .inconsistent("token id \(t) outside the vocabulary of \(c.vocabularySize)")
        } }
        let rows = batch.reduce(0) { $0 + $1.tokens.count }
        guard rows > 0 else { return [] }
        let maxContext = batch.map { $0.cache.length + $0.tokens.count }.max() ?? 0
        let maxNew = batch.map(\.tokens.count).max() ?? 0

        let s = Scratch(rows: rows, config: c, scoreCount: maxNew * maxContext, panel: panelScratchCount)
        defer { s.free() }

        var r = 0
        for seq in batch { for t in seq.tokens { weights.tokenEmbedding.row(Int(t), into: s.x + r * c.embeddingLength); r += 1 } }

        for (l, layer) in weights.layers.enumerated() {
            for i in 0..<rows {
                Ops.rmsNorm(s.x + i * c.embeddingLength, weight: layer.attentionNorm, epsilon: c.rmsEpsilon, into: s.h + i * c.embeddingLength)
            }
            layer.query.apply(s.h, rows: rows, into: s.q, scratch: s.panel)
            layer.key.apply(s.h, rows: rows, into: s.k, scratch: s.panel)
            layer.value.apply(s.h, rows: rows, into: s.v, scratch: s.panel)
            attention(batch, layer: l, s)
            layer.attentionOutput.apply(s.attention, rows: rows, into: s.h, scratch: s.panel)
            add(s.h, into: s.x, count: rows * c.embeddingLength)

            for i in 0..<rows {
                Ops.rmsNorm(s.x + i * c.embeddingLength, weight: layer.feedForwardNorm, epsilon: c.rmsEpsilon, into: s.h + i * c.embeddingLength)
            }
            layer.gate.apply(s.h, rows: rows, into: s.gate, scratch: s.panel)
            layer.up.apply(s.h, rows: rows, into: s.up, scratch: s.panel)
            for i in 0..<rows {
                Ops.swiglu(s.gate + i * c.feedForwardLength, s.up + i * c.feedForwardLength, count: c.feedForwardLength)
            }
            layer.down.apply(s.gate, rows: rows, into: s.h, scratch: s.panel)
            add(s.h, into: s.x, count: rows * c.embeddingLength)
        }
        for seq in batch { seq.cache.length += seq.tokens.count }

        // Only each sequence's last position needs the vocabulary projection.
        var last = 0
        for (b, seq) in batch.enumerated() {
            last += seq.tokens.count
            Ops.rmsNorm(s.x + (last - 1) * c.embeddingLength, weight: weights.outputNorm, epsilon: c.rmsEpsilon,
                        into: s.h + b * c.embeddingLength)
        }
        var logits = [Float](repeating: 0, count: batch.count * c.vocabularySize)
        logits.withUnsafeMutableBufferPointer { out in
            weights.output.apply(s.h, rows: batch.count, into: out.baseAddress!, scratch: s.panel)
        }
        return logits
    }

    private func add(_ a: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] += a[i] }
    }
}
