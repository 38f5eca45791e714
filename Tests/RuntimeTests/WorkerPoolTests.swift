import Foundation
import Synchronization
import Testing
@testable import Runtime

/// The pool's guided claims: every item of a job goes to exactly one part,
/// in runs that shrink towards the end.
@Suite struct WorkerPoolTests {
    /// Records which part took each item, and the runs as claimed.
    final class Claims: @unchecked Sendable {  // each item's slot is written by one part only
        let owners: UnsafeMutablePointer<Atomic<Int>>
        let total: Int
        // NSLock, not Mutex: ThreadSanitizer reads Mutex.withLock on a class's `let` as a racing modify.
        private let lock = NSLock()
        private var claimedRuns: [Range<Int>] = []

        func record(_ run: Range<Int>) { lock.withLock { claimedRuns.append(run) } }
        var runs: [Range<Int>] { lock.withLock { claimedRuns } }

        init(total: Int) {
            self.total = total
            owners = .allocate(capacity: total)
            for i in 0..<total { (owners + i).initialize(to: Atomic(0)) }
        }

        deinit { owners.deallocate() }
    }

    struct ClaimAll: PoolJob {
        let claims: Claims

        func run(part: Int, of parts: Int) {
            while true {
                let run = WorkerPool.shared.claim(of: claims.total)
                if run.isEmpty { return }
                claims.record(run)
                for item in run { claims.owners[item].add(1, ordering: .relaxed) }
            }
        }
    }

    @Test(arguments: [1, 7, 384, 5000])
    func everyItemIsClaimedOnce(total: Int) {
        for _ in 0..<20 {
            let claims = Claims(total: total)
            WorkerPool.shared.run(ClaimAll(claims: claims))
            #expect((0..<total).allSatisfy { claims.owners[$0].load(ordering: .relaxed) == 1 })
            let runs = claims.runs.sorted { $0.lowerBound < $1.lowerBound }
            #expect(runs.first?.lowerBound == 0 && runs.last?.upperBound == total)
            // Guided: a later run is never longer than an earlier one, and the last is a single item.
            #expect(zip(runs, runs.dropFirst()).allSatisfy { $0.count >= $1.count && $0.upperBound == $1.lowerBound })
            #expect(runs.last?.count == 1)
        }
    }
}
