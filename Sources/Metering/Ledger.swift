import CSQLite
import Foundation

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
    public var finishReason: String
    public var batchID: String?

    public init(requestID: String, createdAt: Double, keyName: String, tier: String, model: String, route: String, status: Int,
                promptTokens: Int, cachedTokens: Int, completionTokens: Int, ratePerMillion: Decimal, costUSD: Decimal,
                timeToFirstToken: Double?, duration: Double, finishReason: String, batchID: String? = nil) {
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
        self.finishReason = finishReason
        self.batchID = batchID
    }
}

public struct LedgerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The SQLite ledger (WAL). Rows are written by one thread in batched
/// transactions (a group commit: whoever arrives while a commit runs goes in
/// the next), and `record` returns only once its row's transaction has
/// committed, so a response is acknowledged only after its row is durable.
public final class Ledger: @unchecked Sendable {  // SQLite handles are used by the writer thread only; queues under `condition`
    public let path: String
    private let db: OpaquePointer
    private let insert: OpaquePointer
    private let condition = NSCondition()
    private var pending: [LedgerRow] = []
    private var enqueued = 0
    private var committed = 0
    /// The database cannot be written at all (disk full, I/O error): no more acknowledgements.
    private var failure: String?
    /// Rows the database refused one by one (a duplicate id), by ticket.
    private var rejected: [Int: String] = [:]
    private var closing = false
    private var writerDone = false

    /// The schema, one step per version; `PRAGMA user_version` says how many have run.
    static let migrations = [
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
            insert = try Self.prepare(db, """
                INSERT INTO requests (request_id, created_at, key_name, tier, model, route, status, prompt_tokens, cached_tokens,
                    completion_tokens, rate_usd_per_mtok, cost_usd, ttft, duration, finish_reason, batch_id)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                """)
        } catch {
            sqlite3_close(db)
            throw error
        }
        let writer = Thread { [self] in writeLoop() }
        writer.name = "wafer-ledger"
        writer.start()
    }

    /// Writes `row` and returns once it is committed.
    public func record(_ row: LedgerRow) throws(LedgerError) {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw LedgerError(failure) }
        guard !closing else { throw LedgerError("the ledger is closed") }
        pending.append(row)
        enqueued += 1
        let ticket = enqueued
        condition.broadcast()
        while committed < ticket, failure == nil { condition.wait() }
        if committed < ticket { throw LedgerError(failure ?? "the ledger stopped") }
        if let error = rejected.removeValue(forKey: ticket) { throw LedgerError("the ledger refused the row: \(error)") }
    }

    /// Commits what is queued and closes the database.
    public func close() {
        condition.lock()
        closing = true
        condition.broadcast()
        while !writerDone { condition.wait() }
        condition.unlock()
        sqlite3_finalize(insert)
        sqlite3_close(db)
    }

    private func writeLoop() {
        condition.lock()
        while true {
            while pending.isEmpty, !closing { condition.wait() }
            if pending.isEmpty { break }
            let batch = pending
            let first = committed + 1
            pending.removeAll()
            condition.unlock()
            // One transaction for the batch; if it fails, each row alone, so one bad row fails only itself.
            var refused: [Int: String] = [:]
            var broken: String?
            if write(batch) != nil {
                for (i, row) in batch.enumerated() {
                    guard let error = write([row]) else { continue }
                    refused[first + i] = error
                    if !error.contains("UNIQUE constraint") { broken = error }
                }
            }
            condition.lock()
            if let broken {
                failure = "the ledger could not be written: \(broken)"
            } else {
                committed += batch.count
                rejected.merge(refused) { a, _ in a }
            }
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
                sqlite3_reset(insert)
                sqlite3_clear_bindings(insert)
                wafer_sqlite_bind_text(insert, 1, row.requestID)
                sqlite3_bind_double(insert, 2, row.createdAt)
                wafer_sqlite_bind_text(insert, 3, row.keyName)
                wafer_sqlite_bind_text(insert, 4, row.tier)
                wafer_sqlite_bind_text(insert, 5, row.model)
                wafer_sqlite_bind_text(insert, 6, row.route)
                sqlite3_bind_int64(insert, 7, Int64(row.status))
                sqlite3_bind_int64(insert, 8, Int64(row.promptTokens))
                sqlite3_bind_int64(insert, 9, Int64(row.cachedTokens))
                sqlite3_bind_int64(insert, 10, Int64(row.completionTokens))
                wafer_sqlite_bind_text(insert, 11, Cost.text(row.ratePerMillion))
                wafer_sqlite_bind_text(insert, 12, Cost.text(row.costUSD))
                if let ttft = row.timeToFirstToken { sqlite3_bind_double(insert, 13, ttft) } else { sqlite3_bind_null(insert, 13) }
                sqlite3_bind_double(insert, 14, row.duration)
                wafer_sqlite_bind_text(insert, 15, row.finishReason)
                if let batch = row.batchID { wafer_sqlite_bind_text(insert, 16, batch) } else { sqlite3_bind_null(insert, 16) }
                guard sqlite3_step(insert) == SQLITE_DONE else { throw LedgerError(String(cString: sqlite3_errmsg(db))) }
            }
            try Self.exec(db, "COMMIT")
            return nil
        } catch {
            _ = try? Self.exec(db, "ROLLBACK")
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
