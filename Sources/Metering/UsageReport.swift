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
    public init(ledger: any LedgerReading, from: Double, to: Double, keyName: String?, groupBy: Grouping, prices: PriceSheet) throws(LedgerError) {
        var groups: [String: Line] = [:]
        var routes = Dictionary(uniqueKeysWithValues: ServedBy.allCases.map { ($0, Line(group: $0.rawValue)) })
        var total = Line(group: "total")
        var byModel: [String: Int] = [:]
        try ledger.rows(from: from, to: to, keyName: keyName) { row in
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
