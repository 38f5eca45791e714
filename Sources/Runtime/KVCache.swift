/// One sequence's keys and values for every layer, F32.
/// Layout: keys and values each [layers, capacity, kvDim].
public final class KVCache: @unchecked Sendable {  // used by one thread at a time (the engine's)
    public let capacity: Int
    /// Positions filled so far; the next token goes at `length`.
    public internal(set) var length = 0
    let layerStride: Int
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

    init(config: ModelConfig, capacity: Int) {
        self.capacity = capacity
        layerStride = capacity * config.kvDimension
        let count = config.layerCount * layerStride
        keys = .allocate(capacity: count)
        values = .allocate(capacity: count)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Forgets everything after `position` (keeps a shared prefix).
    public func truncate(to position: Int) { length = min(length, max(0, position)) }

    /// Bytes held by one cache of `capacity` positions.
    public static func bytes(config: ModelConfig, capacity: Int) -> Int {
        2 * config.layerCount * capacity * config.kvDimension * MemoryLayout<Float>.size
    }
}
