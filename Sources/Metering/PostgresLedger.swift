import Foundation

/// The ledger shared by replicas: a PostgreSQL database. Each process is a
/// replica with an id and a heartbeat (`wafer_replicas`, every few seconds);
/// a `running` row whose replica has stopped beating was cut off by a crash
/// and is marked `interrupted` by whichever replica notices. A lost connection
/// is retried for a bounded time, then the write fails (and requests get 503).
final class PostgresLedger: LedgerStore {
    let replicaID: String
    private let url: String
    private var connection: PostgresConnection
    private var lastBeat = Date.distantPast

    /// How long a write keeps retrying a lost connection before it fails.
    static let retrySeconds = 5.0

    /// The schema, one step per version (`wafer_schema.version` says how many have run).
    static let migrations = [
        """
        CREATE TABLE requests (
            request_id TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL, key_name TEXT NOT NULL, tier TEXT NOT NULL,
            model TEXT NOT NULL, route TEXT NOT NULL, status INTEGER NOT NULL,
            prompt_tokens BIGINT NOT NULL, cached_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL,
            rate_usd_per_mtok NUMERIC NOT NULL, cost_usd NUMERIC NOT NULL, ttft DOUBLE PRECISION, duration DOUBLE PRECISION NOT NULL,
            finish_reason TEXT NOT NULL, batch_id TEXT, custom_id TEXT, response TEXT, served_by TEXT NOT NULL DEFAULT 'local',
            upstream TEXT, completion_rate_usd_per_mtok NUMERIC, replica TEXT);
        CREATE INDEX requests_by_time ON requests(created_at);
        CREATE INDEX requests_by_key ON requests(key_name, created_at);
        CREATE INDEX requests_by_batch ON requests(batch_id) WHERE batch_id IS NOT NULL;
        CREATE INDEX requests_running ON requests(replica) WHERE finish_reason = 'running';
        CREATE TABLE wafer_replicas (id TEXT PRIMARY KEY, heartbeat_at DOUBLE PRECISION NOT NULL);
        """,
        """
        CREATE TABLE wafer_files (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, owner TEXT NOT NULL, object TEXT NOT NULL,
                                  content BYTEA NOT NULL);
        CREATE TABLE wafer_batches (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, state TEXT NOT NULL, runner TEXT);
        """,
    ]

    /// The database's clock, so replicas on different machines agree.
    static let now = "extract(epoch from clock_timestamp())"

    init(url: String) throws(LedgerError) {
        self.url = url
        replicaID = "replica-" + UUID().uuidString.lowercased().prefix(12)
        connection = try PostgresConnection(url: url)
        try Self.migrate(connection)
        try beat()
    }

    /// Runs the schema steps not yet run, one replica at a time (an advisory lock held for the transaction).
    static func migrate(_ c: PostgresConnection) throws(LedgerError) {
        try c.execute("BEGIN; SELECT pg_advisory_xact_lock(7114002); CREATE TABLE IF NOT EXISTS wafer_schema (version INTEGER NOT NULL);")
        do throws(LedgerError) {
            let current = try c.query("SELECT version FROM wafer_schema").first?.first.flatMap { $0.flatMap(Int.init) }
            if current == nil { try c.query("INSERT INTO wafer_schema VALUES (0)") }
            let version = current ?? 0
            guard version <= migrations.count else {
                throw LedgerError("the ledger's schema (version \(version)) is newer than this wafer knows (\(migrations.count))")
            }
            for step in version..<migrations.count { try c.execute(migrations[step]) }
            try c.query("UPDATE wafer_schema SET version = $1", ["\(migrations.count)"])
            try c.execute("COMMIT")
        } catch {
            try? c.execute("ROLLBACK")
            throw error
        }
    }

    static let upsert: String = {
        let columns = SQLiteLedger.columns + ["replica"]
        let values = columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let updates = columns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        return "INSERT INTO requests (\(columns.joined(separator: ", "))) VALUES (\(values)) ON CONFLICT (request_id) DO UPDATE SET \(updates)"
    }()

    func write(_ rows: [LedgerRow]) -> String? {
        let deadline = Date(timeIntervalSinceNow: Self.retrySeconds)
        var delay = 0.1
        while true {
            do {
                try connection.execute("BEGIN")
                for row in rows { try connection.query(Self.upsert, Self.parameters(row) + [replicaID]) }
                try connection.execute("COMMIT")
                return nil
            } catch {
                // A refused row (a constraint) fails at once; a lost connection is retried until the deadline.
                if connection.isConnected {
                    try? connection.execute("ROLLBACK")
                    return "\(error)"
                }
                guard Date() < deadline else { return "\(error)" }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 1)
                _ = connection.reset()
            }
        }
    }

    func probe() -> String? {
        if !connection.isConnected, !connection.reset() { return "cannot reach PostgreSQL" }
        do { try connection.query("SELECT 1"); return nil } catch { return "\(error)" }
    }

    /// Every few seconds: this replica's heartbeat, and rows left running by replicas that stopped beating.
    func tick() {
        guard Date().timeIntervalSince(lastBeat) >= 3 else { return }
        try? beat()
    }

    private func beat() throws(LedgerError) {
        if !connection.isConnected { _ = connection.reset() }
        try connection.query("""
            INSERT INTO wafer_replicas VALUES ($1, \(Self.now)) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
            """, [replicaID])
        try connection.query("""
            UPDATE requests SET finish_reason = '\(RequestOutcome.interrupted.rawValue)'
            WHERE finish_reason = '\(RequestOutcome.running.rawValue)' AND (replica IS NULL OR replica NOT IN
                (SELECT id FROM wafer_replicas WHERE heartbeat_at > \(Self.now) - \(Ledger.replicaTimeout)))
            """)
        lastBeat = Date()
    }

    func close() {
        _ = try? connection.query("DELETE FROM wafer_replicas WHERE id = $1", [replicaID])
    }

    static func parameters(_ row: LedgerRow) -> [String?] {
        [row.requestID, "\(row.createdAt)", row.keyName, row.tier, row.model, row.route, "\(row.status)", "\(row.promptTokens)",
         "\(row.cachedTokens)", "\(row.completionTokens)", Cost.text(row.ratePerMillion), Cost.text(row.costUSD),
         row.timeToFirstToken.map { "\($0)" }, "\(row.duration)", row.outcome.rawValue, row.batchID, row.customID, row.response,
         row.servedBy.rawValue, row.upstream, row.completionRatePerMillion.map(Cost.text)]
    }
}

/// Read-only queries, each on a connection of its own.
struct PostgresLedgerReader: LedgerReading {
    let url: String
    static let columns = SQLiteLedger.columns.joined(separator: ", ")

    func rows(from: Double, to: Double, keyName: String?, _ body: (LedgerRow) -> Void) throws(LedgerError) {
        for row in try query("SELECT \(Self.columns) FROM requests WHERE created_at >= $1 AND created_at < $2 AND ($3::text IS NULL OR key_name = $3)",
                             ["\(from)", "\(to)", keyName]) { body(row) }
    }

    func row(requestID: String) throws(LedgerError) -> LedgerRow? {
        try query("SELECT \(Self.columns) FROM requests WHERE request_id = $1", [requestID]).first
    }

    func batchAnswers(batchID: String) throws(LedgerError) -> [String: LedgerRow] {
        let rows = try query("""
            SELECT \(Self.columns) FROM requests WHERE batch_id = $1 AND custom_id IS NOT NULL AND response IS NOT NULL
                AND finish_reason != '\(RequestOutcome.running.rawValue)'
            """, [batchID])
        return Dictionary(rows.map { ($0.customID!, $0) }, uniquingKeysWith: { a, _ in a })
    }

    private func query(_ sql: String, _ parameters: [String?]) throws(LedgerError) -> [LedgerRow] {
        try PostgresConnection(url: url).query(sql, parameters).map { c in
            func text(_ i: Int) -> String { c[i] ?? "" }
            return LedgerRow(
                requestID: text(0), createdAt: Double(text(1)) ?? 0, keyName: text(2), tier: text(3), model: text(4), route: text(5),
                status: Int(text(6)) ?? 0, promptTokens: Int(text(7)) ?? 0, cachedTokens: Int(text(8)) ?? 0,
                completionTokens: Int(text(9)) ?? 0, ratePerMillion: Decimal(string: text(10)) ?? 0, costUSD: Decimal(string: text(11)) ?? 0,
                timeToFirstToken: c[12].flatMap(Double.init), duration: Double(text(13)) ?? 0,
                outcome: RequestOutcome(rawValue: text(14)) ?? .error, batchID: c[15], customID: c[16], response: c[17],
                servedBy: ServedBy(rawValue: text(18)) ?? .local, upstream: c[19], completionRatePerMillion: c[20].flatMap { Decimal(string: $0) })
        }
    }
}
