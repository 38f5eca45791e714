import Runtime

/// KV caches of finished sequences, kept so a later prompt that starts the
/// same way (a shared system or policy prompt, the earlier turns of a chat)
/// copies those positions instead of computing them again. Least recently
/// used entries go first when the engine needs the memory.
struct PrefixCache {
    struct Entry {
        let tokens: [Int32]
        let cache: KVCache
        var lastUse: UInt64
    }

    /// Positions held by all entries, counted against the engine's KV budget.
    private(set) var storedTokens = 0
    private var entries: [Entry] = []
    private var clock: UInt64 = 0
    let maxEntries: Int

    init(maxEntries: Int = 256) { self.maxEntries = maxEntries }

    var count: Int { entries.count }

    /// Keeps `cache`, whose first `tokens.count` positions hold `tokens`.
    /// An entry that the new one extends is replaced; one that already
    /// covers it makes the new one redundant.
    mutating func insert(tokens: [Int32], cache: KVCache) {
        guard !tokens.isEmpty, maxEntries > 0 else { return }
        clock += 1
        if let i = entries.firstIndex(where: { $0.tokens.count >= tokens.count && $0.tokens.starts(with: tokens) }) {
            entries[i].lastUse = clock
            return
        }
        entries.removeAll { entry in
            let covered = tokens.starts(with: entry.tokens)
            if covered { storedTokens -= entry.tokens.count }
            return covered
        }
        entries.append(Entry(tokens: tokens, cache: cache, lastUse: clock))
        storedTokens += tokens.count
        while entries.count > maxEntries { evictOldest() }
    }

    /// The longest head of `prompt` held by an entry or by one of `live`
    /// (sequences still running, with their computed tokens), at most `limit` long.
    mutating func longestMatch(_ prompt: [Int32], limit: Int,
                               live: [(tokens: [Int32], cache: KVCache)]) -> (cache: KVCache, count: Int)? {
        var best: (cache: KVCache, count: Int)?
        var bestEntry: Int?
        func consider(_ tokens: [Int32], _ cache: KVCache) -> Bool {
            let n = Self.commonPrefix(tokens, prompt, limit: limit)
            guard n > (best?.count ?? 0) else { return false }
            best = (cache, n)
            return true
        }
        for (i, entry) in entries.enumerated() where consider(entry.tokens, entry.cache) { bestEntry = i }
        for sequence in live where consider(sequence.tokens, sequence.cache) { bestEntry = nil }
        if let bestEntry {
            clock += 1
            entries[bestEntry].lastUse = clock
        }
        return best
    }

    /// Frees entries, oldest use first, until at most `tokens` positions are stored.
    mutating func shrink(to tokens: Int) {
        while storedTokens > max(tokens, 0), !entries.isEmpty { evictOldest() }
    }

    private mutating func evictOldest() {
        guard let i = entries.indices.min(by: { entries[$0].lastUse < entries[$1].lastUse }) else { return }
        storedTokens -= entries[i].tokens.count
        entries.remove(at: i)
    }

    static func commonPrefix(_ a: [Int32], _ b: [Int32], limit: Int) -> Int {
        var n = 0
        let end = min(a.count, b.count, limit)
        while n < end, a[n] == b[n] { n += 1 }
        return n
    }
}
