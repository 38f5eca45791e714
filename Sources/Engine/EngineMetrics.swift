import Foundation

/// A latency histogram: counts in fixed buckets whose bounds grow by a
/// quarter each (1 ms to about 10 minutes), so P50/P99 read off it are
/// within 25% and the buckets export as a Prometheus histogram as they are.
public struct LatencyHistogram: Sendable, Equatable {
    public static let bounds: [Double] = (0..<60).map { 0.001 * pow(1.25, Double($0)) }
    /// counts[i]: observations ≤ bounds[i] and > bounds[i-1]; the last slot is +Inf.
    public private(set) var counts = [Int](repeating: 0, count: bounds.count + 1)
    public private(set) var count = 0
    public private(set) var sum = 0.0

    public init() {}

    public mutating func observe(_ seconds: Double) {
        let i = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        counts[i] += 1
        count += 1
        sum += seconds
    }

    /// Removes the observations of an earlier snapshot, leaving those made since.
    public mutating func subtract(_ earlier: LatencyHistogram) {
        for i in counts.indices { counts[i] -= earlier.counts[i] }
        count -= earlier.count
        sum -= earlier.sum
    }

    /// The upper bound of the bucket holding quantile `q` (0...1); nil when empty.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = max(1, Int((q * Double(count)).rounded(.up)))
        var seen = 0
        for (i, c) in counts.enumerated() {
            seen += c
            if seen >= rank { return i < Self.bounds.count ? Self.bounds[i] : .infinity }
        }
        return .infinity
    }
}

/// What the engine has done since it started, for `/metrics` and benchmarks.
public struct EngineMetrics: Sendable, Equatable {
    public var timeToFirstToken = LatencyHistogram()
    public var interTokenLatency = LatencyHistogram()
    public var requestLatency = LatencyHistogram()
    public var promptTokens = 0
    /// Prompt positions copied from the prefix cache (every choice's).
    public var cachedPromptTokens = 0
    public var generatedTokens = 0
    /// Requests finished, by finish reason of their first choice.
    public var finishedRequests: [String: Int] = [:]
    public var steps = 0
    /// Sum over steps of the sequences each step computed (÷ steps = mean occupancy).
    public var stepSequences = 0
    /// Sequences computed per step: counts[k] steps carried k sequences.
    public var batchOccupancy: [Int] = []
    public var activeSequences = 0
    public var queuedSequences = 0
    public var prefixCacheEntries = 0
    public var prefixCacheTokens = 0

    public init() {}

    mutating func recordStep(sequences: Int) {
        steps += 1
        stepSequences += sequences
        if batchOccupancy.count <= sequences { batchOccupancy += Array(repeating: 0, count: sequences + 1 - batchOccupancy.count) }
        batchOccupancy[sequences] += 1
    }
}
