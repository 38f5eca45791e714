/// Activations of a forward step, for up to `rows` rows. Zero-filled when
/// made, so the padding rows of sgemm blocks hold finite values (later steps
/// leave finite values behind). Kept by the model and reused while big enough:
/// the decode loop allocates nothing here.
struct Scratch {
    let x: UnsafeMutablePointer<Float>          // [rows, dim] residual stream
    let h: UnsafeMutablePointer<Float>          // [rows, dim] normed input / sublayer output
    let q: UnsafeMutablePointer<Float>          // [rows, heads·headDim]
    let k: UnsafeMutablePointer<Float>          // [rows, kvDim]
    let v: UnsafeMutablePointer<Float>          // [rows, kvDim]
    let attention: UnsafeMutablePointer<Float>  // [rows, heads·headDim]
    let gate: UnsafeMutablePointer<Float>       // [rows, ffn]
    let up: UnsafeMutablePointer<Float>         // [rows, ffn]
    let scores: UnsafeMutablePointer<Float>     // [threads, scoresPerThread] attention's room (`wafer_attend_group_*`)
    let rotations: UnsafeMutablePointer<Float>  // [ropeTables, rows, ropeDimension] RoPE (cos, sin) per pair
    let linear: LinearScratch
    let scoresPerThread: Int
    let rows: Int

    init(rows: Int, config c: ModelConfig, scoresPerThread: Int, linearPerThread: Int, threads: Int) {
        func zeros(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            return p
        }
        x = zeros(rows * c.embeddingLength)
        h = zeros(rows * c.embeddingLength)
        q = zeros(rows * c.queryDimension)
        k = zeros(rows * c.kvDimension)
        v = zeros(rows * c.kvDimension)
        attention = zeros(rows * c.queryDimension)
        gate = zeros(rows * c.feedForwardLength)
        up = zeros(rows * c.feedForwardLength)
        scores = zeros(threads * scoresPerThread)
        rotations = zeros(c.ropeBases.count * rows * c.ropeDimension)
        let widest = max(c.embeddingLength, c.feedForwardLength, c.queryDimension)
        func activations(_ grouping: Q8Activations.Grouping) -> UnsafeMutableRawPointer {
            .allocate(byteCount: Q8Activations.bytes(rows: rows, inputs: widest, grouping: grouping), alignment: 64)
        }
        linear = LinearScratch(panels: zeros(threads * linearPerThread), blockActivations: activations(.blocks),
                               superBlockActivations: activations(.superBlocks))
        self.scoresPerThread = scoresPerThread
        self.rows = rows
    }

    /// A row's (cos, sin) pairs for RoPE table `table`.
    func rotations(table: Int, row: Int, dimension: Int) -> UnsafeMutablePointer<Float> {
        rotations + (table * rows + row) * dimension
    }

    func fits(rows needed: Int, scoresPerThread neededScores: Int) -> Bool { needed <= rows && neededScores <= scoresPerThread }

    func free() {
        for p in [x, h, q, k, v, attention, gate, up, scores, rotations, linear.panels] { p.deallocate() }
        linear.blockActivations.deallocate()
        linear.superBlockActivations.deallocate()
    }
}

/// What `Linear.apply` works in.
struct LinearScratch {
    /// [threads, panel] dequantised weight panels for sgemm (native precision).
    let panels: UnsafeMutablePointer<Float>
    /// Kernel rows quantised to 8 bits (`Q8Activations`), a buffer per grouping:
    /// matrices that share an input may take both.
    let blockActivations: UnsafeMutableRawPointer
    let superBlockActivations: UnsafeMutableRawPointer

    func activations(_ grouping: Q8Activations.Grouping) -> UnsafeMutableRawPointer {
        grouping == .blocks ? blockActivations : superBlockActivations
    }
}
