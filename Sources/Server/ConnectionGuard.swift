import Foundation

/// Keeps slow and greedy clients from holding every connection. The library's
/// idle timer restarts on every byte, so a client trickling a header byte at a
/// time would hold its thread for ever: here a connection gets a deadline for
/// its request's headers and one for its body that bytes do not move, and a
/// watchdog shuts the socket of any connection past its deadline (the
/// connection's thread then closes it). It also counts connections per client
/// address, so that requests over the limits are answered 503.
final class ConnectionGuard: @unchecked Sendable {  // all state under `lock`
    private struct Entry {
        let fd: Int32
        let address: String
        /// Monotonic nanoseconds; nil while a handler runs or a response is sent.
        var deadline: UInt64?
    }

    private let limits: HTTPLimits
    private let lock = NSLock()
    private var entries: [Int: Entry] = [:]
    private var perAddress: [String: Int] = [:]
    private var stopped = false

    init(limits: HTTPLimits) {
        self.limits = limits
        let watchdog = Thread { [self] in watch() }
        watchdog.name = "wafer-connection-watchdog"
        watchdog.start()
    }

    func stop() { lock.withLock { stopped = true } }

    private static func key(_ connection: OpaquePointer) -> Int { Int(bitPattern: UnsafeRawPointer(connection)) }
    private static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
    private static func after(_ seconds: Double) -> UInt64 { now + UInt64(seconds * 1e9) }

    /// A connection was accepted: its first request's headers are due within the header timeout.
    func opened(_ connection: OpaquePointer, fd: Int32, address: String) {
        lock.withLock {
            entries[Self.key(connection)] = Entry(fd: fd, address: address, deadline: Self.after(limits.headerTimeoutSeconds))
            perAddress[address, default: 0] += 1
        }
    }

    /// The connection is closing (its socket is still open): it leaves the registry before its fd can be reused.
    func closed(_ connection: OpaquePointer) {
        lock.withLock {
            guard let entry = entries.removeValue(forKey: Self.key(connection)) else { return }
            perAddress[entry.address, default: 1] -= 1
            if perAddress[entry.address] == 0 { perAddress[entry.address] = nil }
        }
    }

    /// Headers are in: the body is due within the body timeout.
    func headersReceived(_ connection: OpaquePointer) { setDeadline(connection, Self.after(limits.bodyTimeoutSeconds)) }

    /// The request is whole: no deadline while it is handled and answered.
    func bodyReceived(_ connection: OpaquePointer) { setDeadline(connection, nil) }

    /// The response is sent: a kept-alive connection's next request is due within the idle timeout.
    func responded(_ connection: OpaquePointer) { setDeadline(connection, Self.after(Double(limits.idleTimeoutSeconds))) }

    private func setDeadline(_ connection: OpaquePointer, _ deadline: UInt64?) {
        lock.withLock { entries[Self.key(connection)]?.deadline = deadline }
    }

    /// Why a request on this connection should be refused (503), if it should.
    func overLimit(_ connection: OpaquePointer) -> String? {
        lock.withLock {
            guard let entry = entries[Self.key(connection)] else { return nil }
            if entries.count > limits.maxConnections {
                return "The server has more than \(limits.maxConnections) connections open; retry shortly."
            }
            if perAddress[entry.address, default: 0] > limits.maxConnectionsPerAddress {
                return "Your address has more than \(limits.maxConnectionsPerAddress) connections open; close some, or retry shortly."
            }
            return nil
        }
    }

    private func watch() {
        while true {
            Thread.sleep(forTimeInterval: 0.25)
            let done: Bool = lock.withLock {
                guard !stopped else { return true }
                let now = Self.now
                for (key, entry) in entries {
                    guard let deadline = entry.deadline, deadline <= now else { continue }
                    // shutdown, not close: the connection's thread notices, closes it and tells `closed`.
                    _ = shutdown(entry.fd, Int32(SHUT_RDWR))
                    entries[key]?.deadline = nil
                }
                return false
            }
            if done { return }
        }
    }
}
