/// One sequence's keys and values for every layer, F32.
/// Layout: keys and values each [layers, capacity, kvDim].
public final class KVCache: @unchecked Sendable {  // used by one thread at a time (the engine's)
    public let capacity: Int
    /// Positions filled so far; the next token goes at `length`.
    public internal(set) var length = 0
    let layers: Int
    let width: Int
    let layerStride: Int
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

    init(config: ModelConfig, capacity: Int) {
        self.capacity = capacity
        layers = config.layerCount
        width = config.kvDimension
        layerStride = capacity * width
        // Not initialised: pages are only touched (and resident) as positions fill.
        keys = .allocate(capacity: layers * layerStride)
        values = .allocate(capacity: layers * layerStride)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Forgets everything after `position` (keeps a shared prefix).
    public func truncate(to position: Int) { length = min(length, max(0, position)) }

    /// Replaces this cache's contents with the first `count` positions of
    /// `source` (a shared prompt head computed for another sequence). The
    /// values are copied bit for bit, so the result is as if computed here.
    public func copyPrefix(of source: KVCache, count: Int) {
        precondition(source !== self && count <= source.length && count <= capacity
                     && layers == source.layers && width == source.width, "prefix copy between incompatible caches")
        for layer in 0..<layers {
            (keys + layer * layerStride).update(from: source.keys + layer * source.layerStride, count: count * width)
            (values + layer * layerStride).update(from: source.values + layer * source.layerStride, count: count * width)
        }
        length = count
    }

    /// Bytes held by one cache of `capacity` positions.
    public static func bytes(config: ModelConfig, capacity: Int) -> Int {
        2 * config.layerCount * capacity * config.kvDimension * MemoryLayout<Float>.size
    }
}
