import Foundation
import GGUF

/// What the integer kernels can do when memory is not the limit: the rate of
/// 8-bit multiply-adds the chosen variant reaches on weights already in
/// cache, against which prompt processing (compute-bound) is measured.
extension Model {
    /// Multiply-adds a full step spends per prompt token: every block matrix
    /// once (the vocabulary projection runs for a sequence's last token only).
    public var multiplyAddsPerPromptToken: Int {
        weights.blocks.matrices.reduce(0) { $0 + $1.inputs * $1.outputs }
    }

    /// Multiply-adds per second of the integer kernels with both pool threads
    /// on the blocks' mix of weight types (the best window of each): for each type, 64 activation rows
    /// (sixteen tiles of four) against about the first 256 KB of one of its
    /// matrices, repeated; the rates combined as the blocks' multiply-adds
    /// divide among the types (the time a prompt token would take at these
    /// rates). Nil when no matrix is repacked (full precision).
    public func measureIntegerRate(secondsPerType: Double = 0.25) -> Double? {
        var work: [GGMLType: (linear: Linear, multiplyAdds: Int)] = [:]
        for linear in weights.blocks.matrices {
            guard let (_, type) = linear.repacked else { return nil }
            work[type, default: (linear, 0)].multiplyAdds += linear.inputs * linear.outputs
        }
        guard !work.isEmpty else { return nil }
        var seconds = 0.0, total = 0
        for (linear, multiplyAdds) in work.values {
            seconds += Double(multiplyAdds) / rate(of: linear, for: secondsPerType)
            total += multiplyAdds
        }
        return Double(total) / seconds
    }

    private func rate(of linear: Linear, for seconds: Double) -> Double {
        let (packed, type) = linear.repacked!
        let rows = 64, inputs = linear.inputs
        let bytesPerGroup = linear.weightBytes / (linear.outputs / 8)
        // At least four groups per thread (a 8960-input group is 42 KB), about 256 KB in all.
        let outputs = 8 * min(linear.outputs / 8, max(8, 256 * 1024 / bytesPerGroup))
        var state: UInt64 = 7
        let x = (0..<rows * inputs).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(state >> 40) - (1 << 23)) / Float(1 << 23)
        }
        let grouping = Q8Activations.grouping(forRepacked: type)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Q8Activations.bytes(rows: rows, inputs: inputs, grouping: grouping),
                                                      alignment: 64)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: rows * outputs)
        defer { buffer.deallocate(); y.deallocate() }
        let job = RateJob(activations: Q8Activations(x, rows: rows, inputs: inputs, grouping: grouping, buffer: buffer), type: type, packed: packed,
                          groups: outputs / 8, rows: rows, y: y)
        WorkerPool.shared.run(job)  // warm the cache
        // The best of 25 ms windows: this machine is shared, and a peak is what the kernels can do.
        var best = 0.0
        let end = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < end {
            var runs = 0
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .milliseconds(25) {
                WorkerPool.shared.run(job)
                runs += 1
            }
            best = max(best, Double(runs * rows * outputs * inputs) / ((ContinuousClock.now - start) / .seconds(1)))
        }
        return best
    }

    private struct RateJob: PoolJob {
        let activations: Q8Activations, type: GGMLType, packed: UnsafeRawPointer, groups: Int, rows: Int
        let y: UnsafeMutablePointer<Float>

        func run(part: Int, of parts: Int) {
            let slice = WorkerPool.slice(groups, part: part, of: parts)
            activations.multiplyRepacked(type, packed, outputs: slice.lowerBound * 8..<slice.upperBound * 8, rows: rows, y: y,
                                         ldy: groups * 8)
        }
    }
}
