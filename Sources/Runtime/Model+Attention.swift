import CBLAS

extension Model {
    /// Applies RoPE to the step's queries and keys, appends keys and values to
    /// each sequence's cache, and computes causal grouped-query attention of
    /// the new rows over everything cached, into `s.attention`.
    func attention(_ batch: [SequenceInput], layer: Int, _ s: Scratch) {
        let c = config
        let qDim = c.queryDimension, kvDim = c.kvDimension, hd = c.headDimension
        let group = c.headCount / c.kvHeadCount
        let scale = 1 / Float(hd).squareRoot()
        var row = 0
        for seq in batch {
            let cache = seq.cache
            let start = cache.length
            let n = seq.tokens.count
            let keys = cache.keys + layer * cache.layerStride
            let values = cache.values + layer * cache.layerStride
            for i in 0..<n {
                let q = s.q + (row + i) * qDim, k = s.k + (row + i) * kvDim
                Ops.rope(q, heads: c.headCount, headDimension: hd, position: start + i, table: rope)
                Ops.rope(k, heads: c.kvHeadCount, headDimension: hd, position: start + i, table: rope)
                (keys + (start + i) * kvDim).update(from: k, count: kvDim)
                (values + (start + i) * kvDim).update(from: s.v + (row + i) * kvDim, count: kvDim)
            }
            let context = start + n
            for h in 0..<c.headCount {
                let q = s.q + row * qDim + h * hd
                let k = keys + (h / group) * hd, v = values + (h / group) * hd
                let out = s.attention + row * qDim + h * hd
                let scores = s.scores
                if n == 1 {
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(context), Int32(hd), scale, k, Int32(kvDim), q, 1, 0, scores, 1)
                    Ops.softmax(scores, count: context)
                    cblas_sgemv(CblasRowMajor, CblasTrans, Int32(context), Int32(hd), 1, v, Int32(kvDim), scores, 1, 0, out, 1)
                } else {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(context), Int32(hd), scale,
                                q, Int32(qDim), k, Int32(kvDim), 0, scores, Int32(context))
                    for i in 0..<n {
                        // Row i sees positions 0...start+i; later ones are masked to zero weight.
                        let visible = start + i + 1
                        let rowScores = scores + i * context
                        Ops.softmax(rowScores, count: visible)
                        for j in visible..<context { rowScores[j] = 0 }
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(hd), Int32(context), 1,
                                scores, Int32(context), v, Int32(kvDim), 0, out, Int32(qDim))
                }
            }
            row += n
        }
    }
}
