import CKernels

extension Model {
    /// Applies RoPE to the step's queries and keys, appends keys and values to
    /// each sequence's cache, and computes causal grouped-query attention of
    /// the new rows over everything cached, into `s.attention`. Each
    /// (row, head) is computed alone with `RowKernels`' fixed order, so its
    /// result does not depend on the other rows of the step.
    func attention(_ batch: [SequenceInput], layout: RowLayout, layer: Int, _ s: Scratch) {
        let c = config
        let qDim = c.queryDimension, kvDim = c.kvDimension, hd = c.headDimension
        var items: [(row: Int, position: Int, cache: KVCache)] = []
        for (b, seq) in batch.enumerated() {
            let cache = seq.cache
            for i in 0..<seq.tokens.count {
                let row = layout.start[b] + i, position = cache.length + i
                let q = s.q + row * qDim, k = s.k + row * kvDim
                Ops.rope(q, heads: c.headCount, headDimension: hd, position: position, table: rope)
                Ops.rope(k, heads: c.kvHeadCount, headDimension: hd, position: position, table: rope)
                let at = layer * cache.layerStride + position * kvDim
                switch cache.precision {
                case .f32:
                    (cache.keys.assumingMemoryBound(to: Float.self) + at).update(from: k, count: kvDim)
                    (cache.values.assumingMemoryBound(to: Float.self) + at).update(from: s.v + row * kvDim, count: kvDim)
                case .f16:
                    wafer_to_f16(k, cache.keys.assumingMemoryBound(to: UInt16.self) + at, Int32(kvDim))
                    wafer_to_f16(s.v + row * kvDim, cache.values.assumingMemoryBound(to: UInt16.self) + at, Int32(kvDim))
                }
                items.append((row, position, cache))
            }
        }
        let group = c.headCount / c.kvHeadCount
        let scale = 1 / Float(hd).squareRoot()
        let pool = WorkerPool.shared
        let work = items.count * c.headCount
        pool.run { part in
            let scores = s.scores + part * s.scoresPerThread
            for w in WorkerPool.slice(work, part: part, of: pool.size) {
                let item = items[w / c.headCount], head = w % c.headCount
                let kvOffset = layer * item.cache.layerStride + (head / group) * hd
                let query = s.q + item.row * qDim + head * hd, out = s.attention + item.row * qDim + head * hd
                let cache = item.cache, visible = item.position + 1
                switch cache.precision {
                case .f32:
                    Self.attend(query: query, keys: cache.keys.assumingMemoryBound(to: Float.self) + kvOffset,
                                values: cache.values.assumingMemoryBound(to: Float.self) + kvOffset, stride: kvDim,
                                visible: visible, headDimension: hd, scale: scale, scores: scores, out: out)
                case .f16:
                    let keys = cache.keys.assumingMemoryBound(to: UInt16.self) + kvOffset
                    let values = cache.values.assumingMemoryBound(to: UInt16.self) + kvOffset
                    wafer_scores_f16(query, keys, kvDim, Int32(visible), Int32(hd), scale, scores)
                    Ops.softmax(scores, count: visible)
                    wafer_weighted_sum_f16(scores, values, kvDim, Int32(visible), Int32(hd), out)
                }
            }
        }
    }

    /// One query head over `visible` cached positions: softmax(q·kⱼ·scale)·V.
    static func attend(query: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
                       visible: Int, headDimension hd: Int, scale: Float, scores: UnsafeMutablePointer<Float>,
                       out: UnsafeMutablePointer<Float>) {
        for j in 0..<visible { scores[j] = RowKernels.dot1(keys + j * stride, query, hd) * scale }
        Ops.softmax(scores, count: visible)
        for d in 0..<hd { out[d] = 0 }
        for j in 0..<visible {
            let p = scores[j], v = values + j * stride
            for d in 0..<hd { out[d] = out[d].addingProduct(p, v[d]) }
        }
    }
}
