#if canImport(Glibc)
import Glibc
#endif

/// The process's heap allocations so far, when `libWaferAllocationCounter.so`
/// is preloaded (`LD_PRELOAD`); nil otherwise.
enum AllocationCount {
    private typealias Counter = @convention(c) () -> UInt64
    private static let counter: Counter? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "wafer_allocation_count")
        .map { unsafeBitCast($0, to: Counter.self) }

    static var now: UInt64? { counter?() }
}
