/// Activations of one forward step, sized to its rows.
struct Scratch {
    let x: UnsafeMutablePointer<Float>          // [rows, dim] residual stream
    let h: UnsafeMutablePointer<Float>          // [rows, dim] normed input / sublayer output
    let q: UnsafeMutablePointer<Float>          // [rows, heads·headDim]
    let k: UnsafeMutablePointer<Float>          // [rows, kvDim]
    let v: UnsafeMutablePointer<Float>          // [rows, kvDim]
    let attention: UnsafeMutablePointer<Float>  // [rows, heads·headDim]
    let gate: UnsafeMutablePointer<Float>       // [rows, ffn]
    let up: UnsafeMutablePointer<Float>         // [rows, ffn]
    let scores: UnsafeMutablePointer<Float>     // [new rows of one sequence, its context]
    let panel: UnsafeMutablePointer<Float>      // dequantised weight panel (native precision)

    init(rows: Int, config c: ModelConfig, scoreCount: Int, panel panelCount: Int) {
        x = .allocate(capacity: rows * c.embeddingLength)
        h = .allocate(capacity: max(rows, 1) * c.embeddingLength)
        q = .allocate(capacity: rows * c.queryDimension)
        k = .allocate(capacity: rows * c.kvDimension)
        v = .allocate(capacity: rows * c.kvDimension)
        attention = .allocate(capacity: rows * c.queryDimension)
        gate = .allocate(capacity: rows * c.feedForwardLength)
        up = .allocate(capacity: rows * c.feedForwardLength)
        scores = .allocate(capacity: max(scoreCount, 1))
        panel = .allocate(capacity: max(panelCount, 1))
    }

    func free() {
        for p in [x, h, q, k, v, attention, gate, up, scores, panel] { p.deallocate() }
    }
}
