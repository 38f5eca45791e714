import Foundation
import Metering

/// What the dashboard shows: the month's usage by day, the last day's by
/// hour, by key, model and tier (each with its split by route and what the
/// same tokens would cost at the reference providers), and, on a live
/// server, the engine's counters. Read from the ledger and the counters,
/// never from the engine thread.
public struct DashboardData: Encodable, Sendable {
    /// The engine right now (absent from a bill).
    public struct Live: Encodable, Sendable {
        public var model: String?
        public var kernels: String
        public var tokensPerSecond: Double
        public var queuedSequences: Int
        public var runningSequences: Int
        public var ttftP50Ms: Double?, ttftP99Ms: Double?, itlP50Ms: Double?, itlP99Ms: Double?

        public init(model: String?, kernels: String, tokensPerSecond: Double, queuedSequences: Int, runningSequences: Int,
                    ttftP50Ms: Double?, ttftP99Ms: Double?, itlP50Ms: Double?, itlP99Ms: Double?) {
            self.model = model
            self.kernels = kernels
            self.tokensPerSecond = tokensPerSecond
            self.queuedSequences = queuedSequences
            self.runningSequences = runningSequences
            self.ttftP50Ms = ttftP50Ms
            self.ttftP99Ms = ttftP99Ms
            self.itlP50Ms = itlP50Ms
            self.itlP99Ms = itlP99Ms
        }
    }

    public var generatedAt: Double
    public var month: String
    /// Whose usage: one key's, or nil for every key (an admin, or an open server).
    public var key: String?
    public var byDay: UsageReport
    public var byHour: UsageReport
    public var byKey: UsageReport
    public var byModel: UsageReport
    public var byTier: UsageReport
    public var live: Live?

    /// The month that starts at `from` up to `to` (Unix seconds), and its last 24 hours.
    public init(ledger: any LedgerReading, prices: PriceSheet, keyName: String?, from: Double, to: Double, live: Live? = nil) throws(LedgerError) {
        func report(_ grouping: UsageReport.Grouping, since: Double = from) throws(LedgerError) -> UsageReport {
            try UsageReport(ledger: ledger, from: since, to: to, keyName: keyName, groupBy: grouping, prices: prices)
        }
        generatedAt = Date().timeIntervalSince1970
        month = UsageReport.date(from, format: "yyyy-MM")
        key = keyName
        byDay = try report(.day)
        byHour = try report(.hour, since: max(from, (to / 3600).rounded(.up) * 3600 - 24 * 3600))
        byKey = try report(.key)
        byModel = try report(.model)
        byTier = try report(.tier)
        self.live = live
    }
}
