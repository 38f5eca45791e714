import CSQLite
import Foundation

/// Totals of ledger rows over a period, grouped, with the bill under the
/// price sheet and what the same tokens would cost at reference providers.
/// Sums are exact (integers and decimals summed in Swift, not SQL floats).
public struct UsageReport: Encodable, Sendable {
    public enum Grouping: String, Sendable, CaseIterable { case key, model, tier, hour, day, month, route }

    public struct Line: Encodable, Sendable, Equatable {
        public var group: String
        public var requests = 0
        public var promptTokens = 0
        public var cachedTokens = 0
        public var completionTokens = 0
        public var totalTokens: Int { promptTokens + completionTokens }
        /// What the ledger billed (each request at its caller's rate).
        public var costUsd = Decimal(0)

        mutating func add(_ row: LedgerRow) {
            requests += 1
            promptTokens += row.promptTokens
            cachedTokens += row.cachedTokens
            completionTokens += row.completionTokens
            costUsd += row.costUSD
        }

        enum CodingKeys: String, CodingKey { case group, requests, promptTokens, cachedTokens, completionTokens, totalTokens, costUsd }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(group, forKey: .group)
            try c.encode(requests, forKey: .requests)
            try c.encode(promptTokens, forKey: .promptTokens)
            try c.encode(cachedTokens, forKey: .cachedTokens)
            try c.encode(completionTokens, forKey: .completionTokens)
            try c.encode(totalTokens, forKey: .totalTokens)
            try c.encode(costUsd, forKey: .costUsd)
        }
    }

    /// One model's tokens under each tier: on demand at the flat rate; reserved as max(used, commitment) × rate.
    public struct ModelBill: Encodable, Sendable {
        public var model: String
        public var tokens: Int
        public var onDemandUsd: Decimal
        public var reservedCommitmentTokens: Int
        public var reservedUsd: Decimal
    }

    public typealias Comparison = PriceSheet.Comparison

    public var from: String
    public var to: String
    public var groupBy: String
    public var data: [Line]
    public var total: Line
    /// Served locally and by the overflow route's upstream (at its split rates).
    public var byRoute: [Line]
    /// The local tokens' bill under each tier (upstream tokens are billed at the upstream's rates).
    public var bill: [ModelBill]
    public var reference: [Comparison]

    /// Reads rows created in [from, to) (Unix seconds), of one key or all.
    public init(ledgerPath: String, from: Double, to: Double, keyName: String?, groupBy: Grouping, prices: PriceSheet) throws(LedgerError) {
        var groups: [String: Line] = [:]
        var routes = Dictionary(uniqueKeysWithValues: ServedBy.allCases.map { ($0, Line(group: $0.rawValue)) })
        var total = Line(group: "total")
        var byModel: [String: Int] = [:]
        try LedgerReader.rows(path: ledgerPath, from: from, to: to, keyName: keyName) { row in
            let group: String
            switch groupBy {
            case .key: group = row.keyName
            case .model: group = row.model
            case .tier: group = row.tier
            case .hour: group = Self.date(row.createdAt, format: "yyyy-MM-dd'T'HH")
            case .day: group = Self.date(row.createdAt, format: "yyyy-MM-dd")
            case .month: group = Self.date(row.createdAt, format: "yyyy-MM")
            case .route: group = row.servedBy.rawValue
            }
            groups[group, default: Line(group: group)].add(row)
            total.add(row)
            routes[row.servedBy]!.add(row)
            if row.servedBy == .local { byModel[row.model, default: 0] += row.promptTokens + row.completionTokens }
        }
        self.from = Self.date(from, format: "yyyy-MM-dd")
        self.to = Self.date(to, format: "yyyy-MM-dd")
        self.groupBy = groupBy.rawValue
        data = groups.values.sorted { $0.group < $1.group }
        self.total = total
        byRoute = ServedBy.allCases.map { routes[$0]! }
        bill = byModel.keys.sorted().compactMap { model in
            guard let price = prices.price(for: model) else { return nil }
            let tokens = byModel[model]!
            return ModelBill(model: model, tokens: tokens, onDemandUsd: Cost.of(tokens: tokens, perMillion: price.onDemandPerMillion),
                             reservedCommitmentTokens: price.reservedCommitmentTokensPerMonth,
                             reservedUsd: Cost.of(tokens: max(tokens, price.reservedCommitmentTokensPerMonth), perMillion: price.reservedPerMillion))
        }
        reference = prices.comparisons(promptTokens: total.promptTokens, completionTokens: total.completionTokens, billed: total.costUsd)
    }

    /// Midnight UTC of the first day of the month `now` (Unix seconds) is in.
    public static func startOfMonth(_ now: Double) -> Double {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: Date(timeIntervalSince1970: now))
        return calendar.date(from: parts)!.timeIntervalSince1970
    }

    public static func date(_ seconds: Double, format: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = format
        return f.string(from: Date(timeIntervalSince1970: seconds))
    }
}

/// Read-only queries on the ledger, with their own connection (WAL lets them run beside the writer).
public enum LedgerReader {
    static let columns = Ledger.columns.joined(separator: ", ")

    public static func rows(path: String, from: Double, to: Double, keyName: String?, _ body: (LedgerRow) -> Void) throws(LedgerError) {
        try query(path, "SELECT \(columns) FROM requests WHERE created_at >= ?1 AND created_at < ?2 AND (?3 IS NULL OR key_name = ?3)") { s in
            sqlite3_bind_double(s, 1, from)
            sqlite3_bind_double(s, 2, to)
            if let keyName { wafer_sqlite_bind_text(s, 3, keyName) } else { sqlite3_bind_null(s, 3) }
        } each: { body($0) }
    }

    public static func row(path: String, requestID: String) throws(LedgerError) -> LedgerRow? {
        var found: LedgerRow?
        try query(path, "SELECT \(columns) FROM requests WHERE request_id = ?1") { wafer_sqlite_bind_text($0, 1, requestID) } each: { found = $0 }
        return found
    }

    /// The finished lines of a batch that carry their answer, by custom_id.
    public static func batchAnswers(path: String, batchID: String) throws(LedgerError) -> [String: LedgerRow] {
        var answers: [String: LedgerRow] = [:]
        try query(path, """
            SELECT \(columns) FROM requests WHERE batch_id = ?1 AND custom_id IS NOT NULL AND response IS NOT NULL
                AND finish_reason != '\(RequestOutcome.running.rawValue)'
            """) { wafer_sqlite_bind_text($0, 1, batchID) } each: { answers[$0.customID!] = $0 }
        return answers
    }

    private static func query(_ path: String, _ sql: String, bind: (OpaquePointer) -> Void, each: (LedgerRow) -> Void) throws(LedgerError) {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db else {
            sqlite3_close(db)
            throw LedgerError("cannot open the ledger \(path)")
        }
        defer { sqlite3_close(db) }
        sqlite3_busy_timeout(db, 5000)
        let statement = try Ledger.prepare(db, sql)
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
