/// How keys and values are stored.
public enum KVPrecision: String, Sendable, CaseIterable {
    /// Half the memory; what llama.cpp keeps by default.
    case f16
    /// Exact activations (full precision's float64 check needs it).
    case f32

    var bytes: Int { self == .f16 ? 2 : 4 }
}

/// One sequence's keys and values for every layer.
/// Layout: keys and values each [layers, kvHeads, capacity, headDimension]
/// elements of `precision`: one head's keys are contiguous, so attention
/// streams them instead of striding over the other heads (with 32 decode
/// rows, attention took 16% of the time in [layers, capacity, kvDim] order).
public final class KVCache: @unchecked Sendable {  // used by one thread at a time (the engine's)
    public let capacity: Int
    public let precision: KVPrecision
    /// Positions filled so far; the next token goes at `length`.
    public internal(set) var length = 0
    let layers: Int
    let heads: Int
    let headDimension: Int
    /// Elements per head of a layer, and per layer.
    let headStride: Int
    let layerStride: Int
    let keys: UnsafeMutableRawPointer
    let values: UnsafeMutableRawPointer

    init(config: ModelConfig, capacity: Int, precision: KVPrecision) {
        self.capacity = capacity
        self.precision = precision
        layers = config.layerCount
        heads = config.kvHeadCount
        headDimension = config.headDimension
        headStride = capacity * headDimension
        layerStride = heads * headStride
        // Not initialised: pages are only touched (and resident) as positions fill.
        keys = .allocate(byteCount: max(layers * layerStride * precision.bytes, 1), alignment: 64)
        values = .allocate(byteCount: max(layers * layerStride * precision.bytes, 1), alignment: 64)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Element index of `head`'s key (or value) at `position` in `layer`; the next position follows it.
    func offset(layer: Int, head: Int, position: Int) -> Int {
        layer * layerStride + head * headStride + position * headDimension
    }

    /// Forgets everything after `position` (keeps a shared prefix).
    public func truncate(to position: Int) { length = min(length, max(0, position)) }

    /// Replaces this cache's contents with the first `count` positions of
    /// `source` (a shared prompt head computed for another sequence). The
    /// values are copied bit for bit, so the result is as if computed here.
    public func copyPrefix(of source: KVCache, count: Int) {
        precondition(source !== self && count <= source.length && count <= capacity && layers == source.layers
                     && heads == source.heads && headDimension == source.headDimension && precision == source.precision,
                     "prefix copy between incompatible caches")
        let size = precision.bytes, bytes = count * headDimension * size
        for layer in 0..<layers {
            for head in 0..<heads {
                let to = offset(layer: layer, head: head, position: 0) * size
                let from = source.offset(layer: layer, head: head, position: 0) * size
                (keys + to).copyMemory(from: source.keys + from, byteCount: bytes)
                (values + to).copyMemory(from: source.values + from, byteCount: bytes)
            }
        }
        length = count
    }

    /// Bytes held by one cache of `capacity` positions.
    public static func bytes(config: ModelConfig, capacity: Int, precision: KVPrecision) -> Int {
        2 * config.layerCount * capacity * config.kvDimension * precision.bytes
    }
}
