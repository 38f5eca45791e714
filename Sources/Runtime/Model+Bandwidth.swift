import CKernels

/// How fast this machine streams the model's weights into the cores, measured
/// the way a decode step reads them: both pool threads, every matrix once.
/// The weights are far larger than the last-level cache, so this is memory
/// bandwidth, with no extra buffer to swell the process's peak memory.
/// Single-stream decode cannot beat this ÷ `Model.weightBytesPerToken`.
extension Model {
    /// Bytes per second of one read of every weight matrix by both pool threads.
    public func measureWeightBandwidth() -> Double {
        let regions = weights.linears.map(\.weightRegion)
        let start = ContinuousClock.now
        WorkerPool.shared.run(ReadRegions(regions: regions))
        return Double(regions.map(\.count).reduce(0, +)) / ((ContinuousClock.now - start) / .seconds(1))
    }

    private struct ReadRegions: PoolJob {
        let regions: [UnsafeRawBufferPointer]

        func run(part: Int, of parts: Int) {
            var total: UInt64 = 0
            for region in regions {
                let slice = WorkerPool.slice(region.count / 64, part: part, of: parts)
                total &+= wafer_read_bytes(region.baseAddress!.assumingMemoryBound(to: UInt8.self) + slice.lowerBound * 64, slice.count * 64)
            }
            withExtendedLifetime(total) {}
        }
    }
}
