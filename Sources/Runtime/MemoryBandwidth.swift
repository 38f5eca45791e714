import CKernels

/// How fast this machine streams memory into the cores, measured the way a
/// decode step reads its weights: both pool threads reading a buffer far
/// larger than the last-level cache. Single-stream decode cannot beat
/// bandwidth ÷ `Model.weightBytesPerToken`.
public enum MemoryBandwidth {
    /// Bytes per second: the median of `rounds` reads of `bytes`.
    public static func measure(bytes: Int = 256 << 20, rounds: Int = 5) -> Double {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
        var rates: [Double] = []
        for _ in 0..<rounds {
            let start = ContinuousClock.now
            WorkerPool.shared.run(Read(buffer: buffer.assumingMemoryBound(to: UInt8.self), bytes: bytes))
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            rates.append(Double(bytes) / seconds)
        }
        return rates.sorted()[rounds / 2]
    }

    private struct Read: PoolJob {
        let buffer: UnsafePointer<UInt8>, bytes: Int

        func run(part: Int, of parts: Int) {
            let range = WorkerPool.slice(bytes / 64, part: part, of: parts)
            let sum = wafer_read_bytes(buffer + range.lowerBound * 64, range.count * 64)
            precondition(sum == UInt64(range.count * 64))  // every byte is 1: the read happened
        }
    }
}
