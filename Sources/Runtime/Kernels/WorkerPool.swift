import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Work the pool splits: `run(part:of:)` is called once for every part, concurrently.
/// A struct rather than a closure: handing a closure to other threads costs a
/// heap allocation per call (`withoutActuallyEscaping`), which the decode loop must not make.
protocol PoolJob {
    func run(part: Int, of parts: Int)
}

extension PoolJob {
    /// Runs the job of this type stored at `address`.
    fileprivate static func run(at address: UnsafeRawPointer, part: Int, of parts: Int) {
        address.assumingMemoryBound(to: Self.self).pointee.run(part: part, of: parts)
    }
}

/// A persistent pool that runs one job on every core at once: the caller
/// takes part 0, the workers the rest. Kernels here last 40–500 µs, too short
/// for Dispatch (no speed-up measured) or per-call threads; workers spin
/// briefly for the next job, then sleep on a condition so an idle server
/// does not burn the cores.
final class WorkerPool: @unchecked Sendable {  // job handoff is ordered by `epoch`
    static let shared = WorkerPool(size: min(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1), 64))

    let size: Int
    private let epoch = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    /// Work items handed out by `claim` during the current run.
    private let claimed = Atomic<Int>(0)
    /// The running job: its type and the address of the caller's copy, while `run` lasts.
    private var jobType: (any PoolJob.Type)?
    private var jobAddress: UnsafeRawPointer?
    // Heap-allocated: pthread objects must not move, which a class property's address does not promise.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Held for a whole `run`: one job at a time, whoever the callers are.
    private let callerLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var sleepers = 0
    /// About 0.5 ms of polling before a worker sleeps.
    private static let spinLimit = 200_000

    init(size: Int) {
        self.size = size
        pthread_mutex_init(mutex, nil)
        pthread_mutex_init(callerLock, nil)
        pthread_cond_init(condition, nil)
        for index in 1..<max(size, 1) {
            let thread = Thread { [unowned self] in self.workerLoop(index) }
            thread.start()
        }
    }

    /// Calls `job.run(part:of: size)` for every part in 0..<size concurrently and returns when all are done.
    func run<Job: PoolJob>(_ job: Job) {
        pthread_mutex_lock(callerLock)
        defer { pthread_mutex_unlock(callerLock) }
        claimed.store(0, ordering: .relaxed)  // under the lock: another caller's job may be claiming
        guard size > 1 else { return job.run(part: 0, of: 1) }
        withUnsafePointer(to: job) { address in
            jobType = Job.self
            jobAddress = UnsafeRawPointer(address)
            remaining.store(size - 1, ordering: .relaxed)
            epoch.add(1, ordering: .releasing)
            pthread_mutex_lock(mutex)
            if sleepers > 0 { pthread_cond_broadcast(condition) }
            pthread_mutex_unlock(mutex)
            job.run(part: 0, of: size)
            while remaining.load(ordering: .acquiring) > 0 {}
            jobType = nil
            jobAddress = nil
        }
    }

    /// The next unclaimed run of the running job's `total` work items: parts
    /// that take items this way share the work by speed, not in fixed halves.
    /// Runs are long while much is left and single items at the end (guided
    /// scheduling): each claim moves a cache line between cores, and claiming
    /// 64-output chunks one at a time made decode a tenth slower than 128.
    func claim(of total: Int) -> Range<Int> {
        var start = claimed.load(ordering: .relaxed)
        while start < total {
            let end = start + max(1, (total - start) / (2 * size))
            let (exchanged, found) = claimed.compareExchange(expected: start, desired: end, ordering: .relaxed)
            if exchanged { return start..<end }
            start = found
        }
        return total..<total
    }

    /// The part of `0..<count` that `part` of `parts` handles, in fixed contiguous slices.
    static func slice(_ count: Int, part: Int, of parts: Int) -> Range<Int> {
        (count * part / parts)..<(count * (part + 1) / parts)
    }

    private func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while epoch.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinLimit { continue }
                pthread_mutex_lock(mutex)
                sleepers += 1
                while epoch.load(ordering: .acquiring) == seen { pthread_cond_wait(condition, mutex) }
                sleepers -= 1
                pthread_mutex_unlock(mutex)
            }
            seen = epoch.load(ordering: .acquiring)
            jobType!.run(at: jobAddress!, part: index, of: size)
            remaining.subtract(1, ordering: .releasing)
        }
    }
}
