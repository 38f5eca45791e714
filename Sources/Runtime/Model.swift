import Foundation
import CKernels
import GGUF

/// New tokens of one sequence for a forward step, appended to its cache.
public struct SequenceInput {
    /// What the tokens are: prompt tokens, or one token the model just generated.
    /// Kernels are chosen by this (and the precision), never by batch size.
    public enum Kind: Sendable { case prompt, generated }

    public let cache: KVCache
    public let tokens: [Int32]
    public let kind: Kind

    public init(cache: KVCache, tokens: [Int32], kind: Kind) {
        self.cache = cache
        self.tokens = tokens
        self.kind = kind
    }
}

/// A decoder-only transformer of any family in `Architectures`, resident in
/// memory. One forward call runs every layer for every sequence of the batch
/// (no pipeline stages): the rows of all sequences are stacked so each weight
/// matrix is read once per step.
public final class Model: @unchecked Sendable {  // weights immutable; forward is called from one thread at a time
    public let config: ModelConfig
    public let precision: Precision
    public let kvPrecision: KVPrecision
    let weights: Weights
    /// Native-precision weights point into the file's mapping, which must outlive them.
    let file: GGUFFile
    /// One RoPE table per distinct base, and which one each layer uses.
    let ropes: [RopeTable]
    let ropeOfLayer: [Int]
    let linearScratchPerThread: Int
    /// Native precision whose every matrix has an integer kernel: prompt rows
    /// take the same kernels as generated rows (faster than dequantising for sgemm).
    let integerRows: Bool
    /// Reused from step to step, under `forwardLock`: the decode loop allocates nothing.
    private var keptScratch: Scratch?
    private var keptLayout = RowLayout()
    /// One forward at a time (the engine has one thread; tests may call from several).
    private let forwardLock = NSLock()

    /// `kvPrecision` defaults to F16 in native precision (half the memory, as
    /// llama.cpp keeps it) and F32 in full precision (exact activations, which
    /// the float64 check needs).
    public init(file: GGUFFile, precision: Precision, kvPrecision: KVPrecision? = nil) throws(ModelError) {
        let config = try ModelConfig(file: file)
        self.config = config
        self.precision = precision
        self.kvPrecision = kvPrecision ?? (precision == .full ? .f32 : .f16)
        self.file = file
        weights = try Weights(file: file, config: config, precision: precision)
        let bases = config.ropeBases
        ropes = bases.map { RopeTable(base: $0, dimension: config.ropeDimension, style: config.ropeStyle) }
        ropeOfLayer = config.layers.map { bases.firstIndex(of: $0.ropeBase)! }
        integerRows = weights.linears.allSatisfy(\.hasIntegerKernel)
        // sgemm's dequantised panels are only needed when prompt rows use sgemm.
        linearScratchPerThread = integerRows ? 0 : weights.linears.map(\.scratchPerThread).max() ?? 0
    }

    deinit { keptScratch?.free() }

    /// Bytes of weights one decode step reads: every matrix once, the norms,
    /// and one embedding row. Divided by memory bandwidth, the decode speed limit.
    public var weightBytesPerToken: Int {
        let norms = (weights.blocks.normFloats + config.embeddingLength) * MemoryLayout<Float>.size
        return weights.linears.map(\.weightBytes).reduce(0, +) + norms + weights.tokenEmbedding.weightBytes / config.vocabularySize
    }

    /// A cache for one sequence of at most `capacity` tokens (default: the model's context).
    public func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(config: config, capacity: min(capacity ?? config.contextLength, config.contextLength), precision: kvPrecision)
    }

    /// The step's scratch: the kept one while it is big enough, else a larger
    /// one (rounded up, so a sequence's growing context does not reallocate every step).
    private func scratch(rows: Int, attentionFloats: Int) -> Scratch {
        if let kept = keptScratch, kept.fits(rows: rows, scoresPerThread: attentionFloats) { return kept }
        keptScratch?.free()
        let made = Scratch(rows: max(rows, keptScratch?.rows ?? 0), config: config,
                           scoresPerThread: max(attentionFloats, keptScratch?.scoresPerThread ?? 0) * 2,
                           linearPerThread: linearScratchPerThread, threads: WorkerPool.shared.size)
        keptScratch = made
        return made
    }

    /// Prompt rows go through sgemm when a batch-invariant tile was found;
    /// generated rows always through our kernels (one row is bandwidth-bound,
    /// and a padded sgemm tile would multiply its work).
    func usesGemm(_ kind: SequenceInput.Kind) -> Bool { GemmTile.rows != nil && kind == .prompt && !integerRows }

    /// Runs the new tokens of every sequence and returns the logits of each
    /// sequence's last new token: [batch.count, vocabularySize], row-major.
    public func forward(_ batch: [SequenceInput]) throws(ModelError) -> [Float] {
        var logits: [Float] = []
        try forward(batch, logits: &logits)
        return logits
    }

    /// The same into `logits`, whose storage is reused when it is large enough.
    public func forward(_ batch: [SequenceInput], logits: inout [Float]) throws(ModelError) {
        forwardLock.lock()
        defer { forwardLock.unlock() }
        let c = config
        for s in batch where s.cache.length + s.tokens.count > s.cache.capacity {
            throw .contextFull(capacity: s.cache.capacity)
        }
        for s in batch { for t in s.tokens where t < 0 || Int(t) >= c.vocabularySize {
            throw .inconsistent("token id \(t) outside the vocabulary of \(c.vocabularySize)")
        } }
        guard !batch.contains(where: { $0.tokens.isEmpty }) else { throw .inconsistent("a sequence in the step has no tokens") }
        logits.removeAll(keepingCapacity: true)
        guard !batch.isEmpty else { return }
        keptLayout.reset(batch, usesGemm: usesGemm)
        let layout = keptLayout
        var maxContext = 0
        for seq in batch { maxContext = max(maxContext, seq.cache.length + seq.tokens.count) }
        // Attention's room per thread: one KV head's query-head group over the longest context.
        let s = scratch(rows: layout.rowCount, attentionFloats: c.headCount / c.kvHeadCount * (maxContext + c.headDimension + 1))
        let dim = c.embeddingLength

        for (b, seq) in batch.enumerated() {
            for (i, t) in seq.tokens.enumerated() {
                let row = layout.start[b] + i
                weights.tokenEmbedding.row(Int(t), into: s.x + row * dim)
                if c.embeddingScale != 1 { for j in 0..<dim { s.x[row * dim + j] *= c.embeddingScale } }
                for (r, rope) in ropes.enumerated() {
                    rope.rotations(position: seq.cache.length + i, into: s.rotations(table: r, row: row, dimension: c.ropeDimension))
                }
            }
        }
        weights.blocks.run(ForwardStep(model: self, batch: batch, layout: layout, scratch: s))
        for seq in batch { seq.cache.length += seq.tokens.count }

        // Only each sequence's last position needs the vocabulary projection;
        // those rows are gathered in batch order and all take the kernel path.
        for (b, seq) in batch.enumerated() {
            Ops.rmsNorm(s.x + (layout.start[b] + seq.tokens.count - 1) * dim, weight: weights.outputNorm, epsilon: c.rmsEpsilon,
                        into: s.h + b * dim)
        }
        logits.append(contentsOf: repeatElement(0, count: batch.count * c.vocabularySize))
        logits.withUnsafeMutableBufferPointer { out in
            weights.output.apply(s.h, layout: RowLayout(kernelRows: batch.count), into: out.baseAddress!, scratch: s.linear)
        }
    }
}

/// Where each input's rows sit in the step. Inputs that use sgemm come first,
/// each in its own block whose row i is the sequence's position p = start + i
/// placed at p mod tile, the block padded with zero rows (belonging to no
/// sequence) to whole tiles; kernel rows follow, one input after another.
struct RowLayout {
    /// First row of each input, in batch order.
    var start: [Int] = []
    var gemmBlocks: [Range<Int>] = []
    var kernelRows: Range<Int> = 0..<0
    var rowCount: Int { kernelRows.upperBound }

    init() {}

    /// Lays out `batch`, keeping the arrays' storage.
    mutating func reset(_ batch: [SequenceInput], usesGemm: (SequenceInput.Kind) -> Bool) {
        start.removeAll(keepingCapacity: true)
        start.append(contentsOf: repeatElement(0, count: batch.count))
        gemmBlocks.removeAll(keepingCapacity: true)
        var row = 0
        for (b, seq) in batch.enumerated() where usesGemm(seq.kind) {
            let lead = GemmTile.rows.map { seq.cache.length % $0 } ?? 0
            let count = GemmTile.padded(lead + seq.tokens.count)
            start[b] = row + lead
            gemmBlocks.append(row..<row + count)
            row += count
        }
        let first = row
        for (b, seq) in batch.enumerated() where !usesGemm(seq.kind) {
            start[b] = row
            row += seq.tokens.count
        }
        kernelRows = first..<row
    }

    /// Just `count` kernel rows.
    init(kernelRows count: Int) { kernelRows = 0..<count }
}
