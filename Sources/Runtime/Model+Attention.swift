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
            let table = model.ropeOfLayer[layer], rope = model.ropes[table]
            forEachRow(batch, layout: layout, part: part, of: parts) { row, position, cache in
                let q = s.q + row * qDim, k = s.k + row * kvDim
                let rotations = UnsafePointer(s.rotations(table: table, row: row, dimension: c.ropeDimension))
                Ops.rope(q, heads: c.headCount, headDimension: hd, rotations: rotations, table: rope)
                Ops.rope(k, heads: c.kvHeadCount, headDimension: hd, rotations: rotations, table: rope)
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

    /// Each (row, head): softmax(scale·q·K)·V over the row's sequence up to its
    /// position (over its last `window` positions in a sliding-window layer).
    private struct Attend: PoolJob {
        let model: Model, batch: [SequenceInput], layout: RowLayout, layer: Int, scratch: Scratch

        func run(part: Int, of parts: Int) {
            let c = model.config, s = scratch
            let qDim = c.queryDimension, hd = c.headDimension
            let group = c.headCount / c.kvHeadCount
            let scale = c.attentionScale, window = c.layers[layer].window
            let room = s.scores + part * s.scoresPerThread
            // A unit is one row's query-head group: one thread reads those keys
            // and values once for all the group's heads. Units are dealt
            // round-robin (a prompt's later rows cost more), KV head by KV head
            // so that its keys and values stay in cache for all its rows. With
            // one row, three units over two threads matched nine single heads
            // dealt round-robin at short contexts and beat them by a quarter
            // from 1000 positions on, as both threads read every group's keys.
            var index = 0
            for kvHead in 0..<c.kvHeadCount {
                forEachRow(batch, layout: layout, part: 0, of: 1) { row, position, cache in
                    defer { index += 1 }
                    guard index % parts == part else { return }
                    let head = kvHead * group, count = Int32(group)
                    let queries = s.q + row * qDim + head * hd, out = s.attention + row * qDim + head * hd
                    // A sliding-window layer sees the `window` positions ending at its own.
                    let first = window.map { max(0, position + 1 - $0) } ?? 0
                    let at = cache.offset(layer: layer, head: kvHead, position: first), visible = Int32(position + 1 - first)
                    switch cache.precision {
                    case .f32:
                        wafer_attend_group_f32(queries, cache.keys.assumingMemoryBound(to: Float.self) + at,
                                               cache.values.assumingMemoryBound(to: Float.self) + at, visible, Int32(hd), count,
                                               scale, room, out)
                    case .f16:
                        wafer_attend_group_f16(queries, cache.keys.assumingMemoryBound(to: UInt16.self) + at,
                                               cache.values.assumingMemoryBound(to: UInt16.self) + at, visible, Int32(hd), count,
                                               scale, room, out)
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
