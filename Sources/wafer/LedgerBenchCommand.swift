import Foundation
import Metering

/// `wafer ledger-bench --ledger LOCATION`: how fast the ledger takes rows.
/// `writers` threads each write rows as the server does (a reservation, then
/// the finished row: two durable writes per request); prints the latency of
/// one `record` (p50, p99) and the rows per second committed.
enum LedgerBenchCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        let a = try Arguments(args, valued: ["ledger", "requests", "writers"])
        guard let location = a.string("ledger") else { throw UsageError("--ledger PATH or postgresql:// URL is required") }
        let requests = try a.int("requests", default: 5000), writers = try a.int("writers", default: 16)
        guard requests > 0, writers > 0 else { throw UsageError("--requests and --writers must be positive") }
        let ledger: Ledger
        do { ledger = try Ledger(location: location) } catch { throw UsageError("\(error)") }
        nonisolated(unsafe) var latencies: [Double] = []
        let taken = NSLock()
        nonisolated(unsafe) var next = 0
        let started = Date()
        let done = DispatchGroup()
        for _ in 0..<writers {
            done.enter()
            Thread.detachNewThread {
                var mine: [Double] = []
                while true {
                    guard taken.withLock({ () -> Bool in next += 1; return next <= requests }) else { break }
                    var row = LedgerRow(requestID: "bench-\(UUID().uuidString)", createdAt: Date().timeIntervalSince1970, keyName: "bench",
                                        tier: "on_demand", model: "bench", route: "/v1/chat/completions", status: 0, promptTokens: 100,
                                        cachedTokens: 0, completionTokens: 0, ratePerMillion: Decimal(string: "0.1")!, costUSD: 0,
                                        timeToFirstToken: nil, duration: 0, outcome: .running)
                    for outcome in [RequestOutcome.running, .stop] {
                        row.outcome = outcome
                        row.status = outcome == .running ? 0 : 200
                        let t = Date()
                        do { try ledger.record(row) } catch { FileHandle.standardError.write(Data("\(error)\n".utf8)) }
                        mine.append(Date().timeIntervalSince(t))
                    }
                }
                taken.withLock { latencies += mine }
                done.leave()
            }
        }
        done.wait()
        let seconds = Date().timeIntervalSince(started)
        ledger.close()
        let sorted = latencies.sorted()
        func ms(_ q: Double) -> String { String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1000) }
        print("ledger \(PostgresConnection.isURL(location) ? "postgresql" : "sqlite"): \(sorted.count) writes from \(writers) writers "
              + "in \(String(format: "%.1f", seconds)) s: \(Int(Double(sorted.count) / seconds)) rows/s, "
              + "record latency p50 \(ms(0.5)) ms, p99 \(ms(0.99)) ms")
        return 0
    }
}
