import CSQLite
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
    init(_ description: String) { self.description = description }
}

/// Whether the ledger can take rows now.
public enum LedgerState: Sendable, Equatable {
    case ok
    /// The last write failed (disk full, I/O error); new work is refused until a write succeeds again.
    case failed(String)
}

/// The SQLite ledger (WAL). Rows are written by one thread in batched
/// transactions (a group commit: whoever arrives while a commit runs goes in
/// the next), and `record` returns only once its row's transaction has
/// committed, so a response is acknowledged only after its row is durable.
/// Writing the same request id again updates the row: a request's row is
/// reserved at admission and completed at its end. A failed write fails its
/// callers and marks the ledger failed; while failed, the writer probes once
/// a second, so the ledger recovers when the disk does.
public final class Ledger: @unchecked Sendable {  // SQLite handles are used by the writer thread only; queues under `condition`
    public let path: String
    private let db: OpaquePointer
    private let upsert: OpaquePointer
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

    /// The schema, one step per version; `PRAGMA user_version` says how many have run.
    public static let migrations = [
        """
        CREATE TABLE requests (
            request_id TEXT PRIMARY KEY, created_at REAL NOT NULL, key_name TEXT NOT NULL, tier TEXT NOT NULL,
            model TEXT NOT NULL, route TEXT NOT NULL, status INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
            rate_usd_per_mtok TEXT NOT NULL, cost_usd TEXT NOT NULL, ttft REAL, duration REAL NOT NULL,
            finish_reason TEXT NOT NULL, batch_id TEXT);
        CREATE INDEX requests_by_time ON requests(created_at);
        CREATE INDEX requests_by_key ON requests(key_name, created_at);
        """,
        """
        ALTER TABLE requests ADD COLUMN custom_id TEXT;
        ALTER TABLE requests ADD COLUMN response TEXT;
        CREATE INDEX requests_by_batch ON requests(batch_id) WHERE batch_id IS NOT NULL;
        """,
        """
        ALTER TABLE requests ADD COLUMN served_by TEXT NOT NULL DEFAULT 'local';
        ALTER TABLE requests ADD COLUMN upstream TEXT;
        ALTER TABLE requests ADD COLUMN completion_rate_usd_per_mtok TEXT;
        """,
    ]

    static let columns = [
        "request_id", "created_at", "key_name", "tier", "model", "route", "status", "prompt_tokens", "cached_tokens",
        "completion_tokens", "rate_usd_per_mtok", "cost_usd", "ttft", "duration", "finish_reason", "batch_id", "custom_id", "response",
        "served_by", "upstream", "completion_rate_usd_per_mtok",
    ]

    public init(path: String) throws(LedgerError) {
        self.path = path
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK,
              let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw LedgerError("cannot open the ledger \(path): \(message)")
        }
        db = handle
        do {
            // WAL with full sync: a committed row survives a crash of the process and of the machine.
            try Self.exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;")
            try Self.migrate(db)
            // Rows reserved by a process that died before finishing them: no response was acknowledged.
            try Self.exec(db, """
                UPDATE requests SET finish_reason = '\(RequestOutcome.interrupted.rawValue)'
                WHERE finish_reason = '\(RequestOutcome.running.rawValue)'
                """)
            let names = Self.columns.joined(separator: ", ")
            let values = Self.columns.indices.map { "?\($0 + 1)" }.joined(separator: ", ")
            let updates = Self.columns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
            upsert = try Self.prepare(db, "INSERT INTO requests (\(names)) VALUES (\(values)) ON CONFLICT(request_id) DO UPDATE SET \(updates)")
        } catch {
            sqlite3_close(db)
            throw error
        }
        let writer = Thread { [self] in writeLoop() }
        writer.name = "wafer-ledger"
        writer.start()
    }

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
        sqlite3_finalize(upsert)
        sqlite3_close(db)
    }

    private func writeLoop() {
        condition.lock()
        while true {
            while pending.isEmpty, !closing {
                guard failure != nil else { condition.wait(); continue }
                // Failed and idle: probe, so that /health recovers without traffic once the disk does.
                if !condition.wait(until: Date(timeIntervalSinceNow: 1)), pending.isEmpty {
                    condition.unlock()
                    let probe = Self.probe(db)
                    condition.lock()
                    if probe == nil { failure = nil }
                }
            }
            if pending.isEmpty { break }
            let batch = pending
            let first = resolved + 1
            pending.removeAll()
            condition.unlock()
            // One transaction for the batch; if it fails, each row alone, so one bad row fails only itself.
            var refused: [Int: String] = [:]
            if write(batch) != nil {
                for (i, row) in batch.enumerated() {
                    if let error = write([row]) { refused[first + i] = error }
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

    private func write(_ rows: [LedgerRow]) -> String? {
        do {
            try Self.exec(db, "BEGIN IMMEDIATE")
            for row in rows {
                sqlite3_reset(upsert)
                sqlite3_clear_bindings(upsert)
                wafer_sqlite_bind_text(upsert, 1, row.requestID)
                sqlite3_bind_double(upsert, 2, row.createdAt)
                wafer_sqlite_bind_text(upsert, 3, row.keyName)
                wafer_sqlite_bind_text(upsert, 4, row.tier)
                wafer_sqlite_bind_text(upsert, 5, row.model)
                wafer_sqlite_bind_text(upsert, 6, row.route)
                sqlite3_bind_int64(upsert, 7, Int64(row.status))
                sqlite3_bind_int64(upsert, 8, Int64(row.promptTokens))
                sqlite3_bind_int64(upsert, 9, Int64(row.cachedTokens))
                sqlite3_bind_int64(upsert, 10, Int64(row.completionTokens))
                wafer_sqlite_bind_text(upsert, 11, Cost.text(row.ratePerMillion))
                wafer_sqlite_bind_text(upsert, 12, Cost.text(row.costUSD))
                if let ttft = row.timeToFirstToken { sqlite3_bind_double(upsert, 13, ttft) } else { sqlite3_bind_null(upsert, 13) }
                sqlite3_bind_double(upsert, 14, row.duration)
                wafer_sqlite_bind_text(upsert, 15, row.outcome.rawValue)
                for (index, value) in [(16, row.batchID), (17, row.customID), (18, row.response), (19, row.servedBy.rawValue),
                                       (20, row.upstream), (21, row.completionRatePerMillion.map(Cost.text))] {
                    if let value { wafer_sqlite_bind_text(upsert, Int32(index), value) } else { sqlite3_bind_null(upsert, Int32(index)) }
                }
                guard sqlite3_step(upsert) == SQLITE_DONE else { throw LedgerError(String(cString: sqlite3_errmsg(db))) }
            }
            try Self.exec(db, "COMMIT")
            return nil
        } catch {
            _ = try? Self.exec(db, "ROLLBACK")
            return "\(error)"
        }
    }

    /// A write that changes nothing (the schema version, set to itself): nil when the database takes writes again.
    private static func probe(_ db: OpaquePointer) -> String? {
        do {
            try exec(db, "BEGIN IMMEDIATE; PRAGMA user_version = \(migrations.count); COMMIT;")
            return nil
        } catch {
            _ = try? exec(db, "ROLLBACK")
            return "\(error)"
        }
    }

    static func exec(_ db: OpaquePointer, _ sql: String) throws(LedgerError) {
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &message) == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw LedgerError(text)
        }
    }

    static func prepare(_ db: OpaquePointer, _ sql: String) throws(LedgerError) -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw LedgerError(String(cString: sqlite3_errmsg(db)))
        }
        return statement
    }

    static func migrate(_ db: OpaquePointer) throws(LedgerError) {
        let version = try prepare(db, "PRAGMA user_version")
        defer { sqlite3_finalize(version) }
        guard sqlite3_step(version) == SQLITE_ROW else { throw LedgerError("cannot read the ledger's schema version") }
        let current = Int(sqlite3_column_int64(version, 0))
        guard current <= migrations.count else {
            throw LedgerError("the ledger's schema (version \(current)) is newer than this wafer knows (\(migrations.count))")
        }
        for step in current..<migrations.count {
            try exec(db, "BEGIN IMMEDIATE; \(migrations[step]) PRAGMA user_version = \(step + 1); COMMIT;")
        }
    }
}
