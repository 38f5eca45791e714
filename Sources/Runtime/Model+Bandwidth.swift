import CKernels

/// How fast this machine streams the model's weights into the cores, measured
/// the way a decode step reads them: both pool threads, every matrix once.
/// The weights are far larger than the last-level cache, so this is memory
/// bandwidth, with no extra buffer to swell the process's peak memory.
/// Single-stream decode cannot beat this ÷ `Model.weightBytesPerToken`.
extension Model {
    /// Bytes per second: the median of `rounds` reads of every weight matrix.
    public func measureWeightBandwidth(rounds: Int = 5) -> Double {
        let regions = weights.linears.map(\.weightRegion)
        let bytes = regions.map(\.count).reduce(0, +)
        var rates: [Double] = []
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            WorkerPool.shared.run(ReadRegions(regions: regions))
            rates.append(Double(bytes) / ((ContinuousClock.now - start) / .seconds(1)))
        }
        return rates.sorted()[rounds / 2]
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
