import Engine
import Foundation

/// How a request ended, as the ledger's `finish_reason` column keeps it. A
/// request's row moves forward once: `running` (reserved at admission) to how
/// it ended; `refused` requests never ran; `interrupted` ones were running
/// when the process died.
public enum RequestOutcome: String, Sendable, Equatable, CaseIterable {
    case running, stop, length, cancelled, error, refused, interrupted

    public init(_ reason: FinishReason) {
        switch reason {
        case .stop: self = .stop
        case .length: self = .length
        case .cancelled: self = .cancelled
        case .error: self = .error
        }
    }
}

/// One metered request, as the ledger keeps it.
public struct LedgerRow: Sendable, Equatable {
    public var requestID: String
    /// Unix seconds.
    public var createdAt: Double
    public var keyName: String
    public var tier: String
    public var model: String
    public var route: String
    public var status: Int
    public var promptTokens: Int
    public var cachedTokens: Int
    public var completionTokens: Int
    public var ratePerMillion: Decimal
    public var costUSD: Decimal
    public var timeToFirstToken: Double?
    public var duration: Double
    public var outcome: RequestOutcome
    public var batchID: String?
    /// A batch line's custom_id; its request id is `LedgerRow.batchLineID` of the two.
    public var customID: String?
    /// A batch line's response body, so a resumed line reuses its answer instead of running (and billing) again.
    public var response: String?
    public var servedBy: ServedBy = .local
    /// The upstream's name, when it served the request.
    public var upstream: String?
    /// The completion rate, when it differs from `ratePerMillion` (the prompt rate): upstream split rates.
    public var completionRatePerMillion: Decimal?

    public init(requestID: String, createdAt: Double, keyName: String, tier: String, model: String, route: String, status: Int,
                promptTokens: Int, cachedTokens: Int, completionTokens: Int, ratePerMillion: Decimal, costUSD: Decimal,
                timeToFirstToken: Double?, duration: Double, outcome: RequestOutcome, batchID: String? = nil,
                customID: String? = nil, response: String? = nil, servedBy: ServedBy = .local, upstream: String? = nil,
                completionRatePerMillion: Decimal? = nil) {
        self.requestID = requestID
        self.createdAt = createdAt
        self.keyName = keyName
        self.tier = tier
        self.model = model
        self.route = route
        self.status = status
        self.promptTokens = promptTokens
        self.cachedTokens = cachedTokens
        self.completionTokens = completionTokens
        self.ratePerMillion = ratePerMillion
        self.costUSD = costUSD
        self.timeToFirstToken = timeToFirstToken
        self.duration = duration
        self.outcome = outcome
        self.batchID = batchID
        self.customID = customID
        self.response = response
        self.servedBy = servedBy
        self.upstream = upstream
        self.completionRatePerMillion = completionRatePerMillion
    }

    /// The request id of a batch line: the same on every run of the batch, so
    /// a resumed line updates its row rather than adding a second one.
    public static func batchLineID(batchID: String, customID: String) -> String { stableID(batchID, customID) }

    /// 24 hex digits (like the random request ids) that depend only on `a` and `b`.
    public static func stableID(_ a: String, _ b: String) -> String {
        // Two FNV-1a hashes with different offsets.
        func fnv(_ offset: UInt64) -> UInt64 {
            var h = offset
            for byte in a.utf8 + [0] + b.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
            return h
        }
        return String(String(format: "%016llx%016llx", fnv(0xcbf2_9ce4_8422_2325), fnv(0x84222325_cbf29ce4)).prefix(24))
    }
}

public struct LedgerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Whether the ledger can take rows now.
public enum LedgerState: Sendable, Equatable {
    case ok
    /// The last write failed (disk full, I/O error, database gone); new work is refused until a write succeeds again.
    case failed(String)
}

/// Where rows are kept: the writer side of a SQLite file or a PostgreSQL database.
protocol LedgerStore: AnyObject {
    /// Writes (or updates, by request id) the rows in one transaction; nil when committed, else why not.
    func write(_ rows: [LedgerRow]) -> String?
    /// A write that changes nothing: nil once the store takes writes again.
    func probe() -> String?
    /// Called about once a second while the writer is idle (PostgreSQL: the replica's heartbeat).
    func tick()
    func close()
}

/// Read-only queries on a ledger, each with its own connection (so they run beside the writer).
public protocol LedgerReading: Sendable {
    /// Rows created in [from, to) (Unix seconds), of one key or all.
    func rows(from: Double, to: Double, keyName: String?, _ body: (LedgerRow) -> Void) throws(LedgerError)
    func row(requestID: String) throws(LedgerError) -> LedgerRow?
    /// The finished lines of a batch that carry their answer, by custom_id.
    func batchAnswers(batchID: String) throws(LedgerError) -> [String: LedgerRow]
}

/// The reader for a ledger location: a PostgreSQL URL or a SQLite file's path.
public func ledgerReader(_ location: String) -> any LedgerReading {
    PostgresConnection.isURL(location) ? PostgresLedgerReader(url: location) : SQLiteLedgerReader(path: location)
}

/// The ledger: SQLite (embedded, one process) or PostgreSQL (shared by
/// replicas). Rows are written by one thread in batched transactions (a group
/// commit: whoever arrives while a commit runs goes in the next), and `record`
/// returns only once its row's transaction has committed, so a response is
/// acknowledged only after its row is durable. Writing the same request id
/// again updates the row: a request's row is reserved at admission and
/// completed at its end. A failed write fails its callers and marks the
/// ledger failed; while failed, the writer probes once a second, so the
/// ledger recovers when the store does.
public final class Ledger: @unchecked Sendable {  // the store is used by the writer thread only; queues under `condition`
    /// The SQLite file's path or the PostgreSQL URL.
    public let location: String
    public let reader: any LedgerReading
    /// This process's id among replicas sharing a PostgreSQL ledger (nil on SQLite).
    public let replicaID: String?
    /// Seconds without a heartbeat after which a replica counts as gone (its running rows
    /// become `interrupted`, its batches may be taken over).
    public static let replicaTimeout = 15.0
    private let store: LedgerStore
    private let condition = NSCondition()
    private var pending: [LedgerRow] = []
    private var enqueued = 0
    /// Tickets up to this one have been written or refused.
    private var resolved = 0
    /// Rows the database refused, by ticket.
    private var rejected: [Int: String] = [:]
    private var failure: String?
    private var closing = false
    private var writerDone = false

    /// Opens (creating or migrating) the ledger at `location`: a `postgresql://` URL, else a SQLite file's path.
    public init(location: String) throws(LedgerError) {
        self.location = location
        reader = ledgerReader(location)
        if PostgresConnection.isURL(location) {
            let postgres = try PostgresLedger(url: location)
            store = postgres
            replicaID = postgres.replicaID
        } else {
            store = try SQLiteLedger(path: location)
            replicaID = nil
        }
        let writer = Thread { [self] in writeLoop() }
        writer.name = "wafer-ledger"
        writer.start()
    }

    public convenience init(path: String) throws(LedgerError) { try self.init(location: path) }

    public var state: LedgerState { condition.withLock { failure.map(LedgerState.failed) ?? .ok } }

    /// Writes `row` (or updates the row with its request id) and returns once it is committed.
    public func record(_ row: LedgerRow) throws(LedgerError) {
        condition.lock()
        defer { condition.unlock() }
        guard !closing else { throw LedgerError("the ledger is closed") }
        pending.append(row)
        enqueued += 1
        let ticket = enqueued
        condition.broadcast()
        while resolved < ticket, !writerDone { condition.wait() }
        if resolved < ticket { throw LedgerError("the ledger stopped") }
        if let error = rejected.removeValue(forKey: ticket) { throw LedgerError("the ledger could not be written: \(error)") }
    }

    /// Commits what is queued and closes the database.
    public func close() {
        condition.lock()
        closing = true
        condition.broadcast()
        while !writerDone { condition.wait() }
        condition.unlock()
        store.close()
    }

    private func writeLoop() {
        condition.lock()
        while true {
            while pending.isEmpty, !closing {
                guard !condition.wait(until: Date(timeIntervalSinceNow: 1)), pending.isEmpty, !closing else { continue }
                // Idle for a second: if failed, probe, so that /health recovers without traffic once the store does.
                let failed = failure != nil
                condition.unlock()
                let probe = failed ? store.probe() : nil
                store.tick()
                condition.lock()
                if probe == nil { failure = nil }
            }
            if pending.isEmpty { break }
            let batch = pending
            let first = resolved + 1
            pending.removeAll()
            condition.unlock()
            // One transaction for the batch; if it fails, each row alone, so one bad row fails only itself.
            var refused: [Int: String] = [:]
            if store.write(batch) != nil {
                for (i, row) in batch.enumerated() {
                    if let error = store.write([row]) { refused[first + i] = error }
                }
            }
            condition.lock()
            resolved += batch.count
            rejected.merge(refused) { a, _ in a }
            failure = refused.isEmpty ? nil : "the ledger could not be written: \(refused.values.first!)"
            condition.broadcast()
        }
        writerDone = true
        condition.broadcast()
        condition.unlock()
    }
}
