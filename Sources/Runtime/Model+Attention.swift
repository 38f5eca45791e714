import CKernels

extension Model {
    /// Applies RoPE to the step's queries and keys, appends keys and values to
    /// each sequence's cache, and computes causal grouped-query attention of
    /// the new rows over everything cached, into `s.attention`. Each
    /// (row, head) is computed alone by `wafer_attend_*` in an order fixed by
    /// its own position, so its result does not depend on the other rows.
    func attention(_ batch: [SequenceInput], layout: RowLayout, layer: Int, _ s: Scratch) {
        let store = StoreKeysAndValues(model: self, batch: batch, layout: layout, layer: layer, scratch: s)
        // Every key and value is written before any row attends; a few rows are not worth waking the pool for.
        if layout.rowCount >= 8 { WorkerPool.shared.run(store) } else { store.run(part: 0, of: 1) }
        WorkerPool.shared.run(Attend(model: self, batch: batch, layout: layout, layer: layer, scratch: s))
    }

    /// RoPE on each row's query and key, and the key and value into the row's cache (rows are independent).
    private struct StoreKeysAndValues: PoolJob {
        let model: Model, batch: [SequenceInput], layout: RowLayout, layer: Int, scratch: Scratch

        func run(part: Int, of parts: Int) {
            let c = model.config, s = scratch
            let qDim = c.queryDimension, kvDim = c.kvDimension, hd = c.headDimension
            forEachRow(batch, layout: layout, part: part, of: parts) { row, position, cache in
                let q = s.q + row * qDim, k = s.k + row * kvDim
                let rotations = UnsafePointer(s.rotations + row * c.ropeDimension)
                Ops.rope(q, heads: c.headCount, headDimension: hd, rotations: rotations, table: model.rope)
                Ops.rope(k, heads: c.kvHeadCount, headDimension: hd, rotations: rotations, table: model.rope)
                for head in 0..<c.kvHeadCount {
                    let at = cache.offset(layer: layer, head: head, position: position)
                    let key = k + head * hd, value = s.v + row * kvDim + head * hd
                    switch cache.precision {
                    case .f32:
                        (cache.keys.assumingMemoryBound(to: Float.self) + at).update(from: key, count: hd)
                        (cache.values.assumingMemoryBound(to: Float.self) + at).update(from: value, count: hd)
                    case .f16:
                        wafer_to_f16(key, cache.keys.assumingMemoryBound(to: UInt16.self) + at, Int32(hd))
                        wafer_to_f16(value, cache.values.assumingMemoryBound(to: UInt16.self) + at, Int32(hd))
                    }
                }
            }
        }
    }

    /// Each (row, head): softmax(q·K/√d)·V over the row's sequence up to its position.
    private struct Attend: PoolJob {
        let model: Model, batch: [SequenceInput], layout: RowLayout, layer: Int, scratch: Scratch

        func run(part: Int, of parts: Int) {
            let c = model.config, s = scratch
            let qDim = c.queryDimension, hd = c.headDimension
            let group = c.headCount / c.kvHeadCount
            let scale = 1 / Float(hd).squareRoot()
            let scores = s.scores + part * s.scoresPerThread
            // Work dealt round-robin, as a prompt's later rows cost more: a row's
            // whole query-head group per unit, so one thread reads those keys
            // and values, when there are units enough to share out evenly;
            // else single (row, head) pairs. Which thread computes a head does
            // not change its arithmetic. One KV head at a time, so its keys
            // and values stay in cache for all its rows.
            let perHead = layout.rowCount * c.kvHeadCount < 4 * parts
            var index = 0
            for kvHead in 0..<c.kvHeadCount {
                forEachRow(batch, layout: layout, part: 0, of: 1) { row, position, cache in
                    defer { index += perHead ? group : 1 }
                    for head in kvHead * group..<(kvHead + 1) * group {
                        let unit = perHead ? index + head - kvHead * group : index
                        guard unit % parts == part else { continue }
                        let kvOffset = cache.offset(layer: layer, head: kvHead, position: 0)
                        let query = s.q + row * qDim + head * hd, out = s.attention + row * qDim + head * hd
                        switch cache.precision {
                        case .f32:
                            wafer_attend_f32(query, cache.keys.assumingMemoryBound(to: Float.self) + kvOffset,
                                             cache.values.assumingMemoryBound(to: Float.self) + kvOffset, hd,
                                             Int32(position + 1), Int32(hd), scale, scores, out)
                        case .f16:
                            wafer_attend_f16(query, cache.keys.assumingMemoryBound(to: UInt16.self) + kvOffset,
                                             cache.values.assumingMemoryBound(to: UInt16.self) + kvOffset, hd,
                                             Int32(position + 1), Int32(hd), scale, scores, out)
                        }
                    }
                }
            }
        }
    }
}

/// `body(row, position, cache)` for the step's rows that `part` of `parts`
/// takes (every `parts`-th row).
private func forEachRow(_ batch: [SequenceInput], layout: RowLayout, part: Int, of parts: Int, _ body: (Int, Int, KVCache) -> Void) {
    var index = 0
    for (b, seq) in batch.enumerated() {
        for i in 0..<seq.tokens.count {
            if index % parts == part { body(layout.start[b] + i, seq.cache.length + i, seq.cache) }
            index += 1
        }
    }
}
