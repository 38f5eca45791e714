import CSQLite
import Foundation

/// The embedded ledger: a SQLite file in WAL mode with full sync, so a
/// committed row survives a crash of the process and of the machine.
final class SQLiteLedger: LedgerStore {
    private let db: OpaquePointer
    private let upsert: OpaquePointer

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

    /// Both backends' columns, in the order rows are bound and read.
    static let columns = [
        "request_id", "created_at", "key_name", "tier", "model", "route", "status", "prompt_tokens", "cached_tokens",
        "completion_tokens", "rate_usd_per_mtok", "cost_usd", "ttft", "duration", "finish_reason", "batch_id", "custom_id", "response",
        "served_by", "upstream", "completion_rate_usd_per_mtok",
    ]

    init(path: String) throws(LedgerError) {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK,
              let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw LedgerError("cannot open the ledger \(path): \(message)")
        }
        db = handle
        do {
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
    }

    func close() {
        sqlite3_finalize(upsert)
        sqlite3_close(db)
    }

    func tick() {}

    func write(_ rows: [LedgerRow]) -> String? {
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

    /// The schema version, set to itself.
    func probe() -> String? {
        do {
            try Self.exec(db, "BEGIN IMMEDIATE; PRAGMA user_version = \(Self.migrations.count); COMMIT;")
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

/// Read-only queries with their own connection (WAL lets them run beside the writer).
struct SQLiteLedgerReader: LedgerReading {
    let path: String
    private let columns = SQLiteLedger.columns.joined(separator: ", ")

    func rows(from: Double, to: Double, keyName: String?, _ body: (LedgerRow) -> Void) throws(LedgerError) {
        try query("SELECT \(columns) FROM requests WHERE created_at >= ?1 AND created_at < ?2 AND (?3 IS NULL OR key_name = ?3)") { s in
            sqlite3_bind_double(s, 1, from)
            sqlite3_bind_double(s, 2, to)
            if let keyName { wafer_sqlite_bind_text(s, 3, keyName) } else { sqlite3_bind_null(s, 3) }
        } each: { body($0) }
    }

    func row(requestID: String) throws(LedgerError) -> LedgerRow? {
        var found: LedgerRow?
        try query("SELECT \(columns) FROM requests WHERE request_id = ?1") { wafer_sqlite_bind_text($0, 1, requestID) } each: { found = $0 }
        return found
    }

    func batchAnswers(batchID: String) throws(LedgerError) -> [String: LedgerRow] {
        var answers: [String: LedgerRow] = [:]
        try query("""
            SELECT \(columns) FROM requests WHERE batch_id = ?1 AND custom_id IS NOT NULL AND response IS NOT NULL
                AND finish_reason != '\(RequestOutcome.running.rawValue)'
            """) { wafer_sqlite_bind_text($0, 1, batchID) } each: { answers[$0.customID!] = $0 }
        return answers
    }

    private func query(_ sql: String, bind: (OpaquePointer) -> Void, each: (LedgerRow) -> Void) throws(LedgerError) {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db else {
            sqlite3_close(db)
            throw LedgerError("cannot open the ledger \(path)")
        }
        defer { sqlite3_close(db) }
        sqlite3_busy_timeout(db, 5000)
        let statement = try SQLiteLedger.prepare(db, sql)
        defer { sqlite3_finalize(statement) }
        bind(statement)
        func text(_ i: Int32) -> String { sqlite3_column_text(statement, i).map { String(cString: $0) } ?? "" }
        func optionalText(_ i: Int32) -> String? { sqlite3_column_type(statement, i) == SQLITE_NULL ? nil : text(i) }
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { return }
            guard step == SQLITE_ROW else { throw LedgerError(String(cString: sqlite3_errmsg(db))) }
            each(LedgerRow(
                requestID: text(0), createdAt: sqlite3_column_double(statement, 1), keyName: text(2), tier: text(3), model: text(4),
                route: text(5), status: Int(sqlite3_column_int64(statement, 6)), promptTokens: Int(sqlite3_column_int64(statement, 7)),
                cachedTokens: Int(sqlite3_column_int64(statement, 8)), completionTokens: Int(sqlite3_column_int64(statement, 9)),
                ratePerMillion: Decimal(string: text(10)) ?? 0, costUSD: Decimal(string: text(11)) ?? 0,
                timeToFirstToken: sqlite3_column_type(statement, 12) == SQLITE_NULL ? nil : sqlite3_column_double(statement, 12),
                duration: sqlite3_column_double(statement, 13), outcome: RequestOutcome(rawValue: text(14)) ?? .error,
                batchID: optionalText(15), customID: optionalText(16), response: optionalText(17),
                servedBy: ServedBy(rawValue: text(18)) ?? .local, upstream: optionalText(19),
                completionRatePerMillion: optionalText(20).flatMap { Decimal(string: $0) }))
        }
    }
}
