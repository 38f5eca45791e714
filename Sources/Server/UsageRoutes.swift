import Foundation
import Metering
import OpenAI

extension APIServer {
    /// `GET /v1/usage?from=YYYY-MM-DD&to=YYYY-MM-DD&group_by=key|model|tier|hour|day|month|route` (to is exclusive;
    /// defaults: this month so far, by key) and `GET /v1/usage/requests/{id}`. Admin keys see
    /// every key's rows, others their own.
    func usage(_ request: HTTPRequest, caller: Caller) throws(APIError) -> HTTPResponse {
        let meter = try ledgerKept()
        let now = Date().timeIntervalSince1970
        let from = try Self.day(request.query["from"], param: "from") ?? UsageReport.startOfMonth(now)
        let to = try Self.day(request.query["to"], param: "to") ?? now + 1
        guard let grouping = UsageReport.Grouping(rawValue: request.query["group_by"] ?? "key") else {
            throw .invalidRequest("group_by must be key, model, tier, hour, day, month or route.", param: "group_by", code: "invalid_value")
        }
        do {
            let report = try UsageReport(ledger: meter.ledger.reader, from: from, to: to, keyName: caller.isAdmin ? nil : caller.name,
                                         groupBy: grouping, prices: meter.prices)
            return .json(WireJSON.encode(report))
        } catch { throw .server("\(error)") }
    }

    /// `GET /v1/usage/requests/{id}`: one row, if the caller may see it.
    func usageRow(_ id: String, caller: Caller) throws(APIError) -> HTTPResponse {
        let meter = try ledgerKept()
        let row: LedgerRow?
        do { row = try meter.ledger.reader.row(requestID: id) } catch { throw .server("\(error)") }
        guard let row, caller.canSee(Caller(name: row.keyName, tier: .onDemand)) else {
            throw .notFound("No request '\(id)' in the ledger for this key.", param: "id", code: "request_not_found")
        }
        return .json(WireJSON.encode(LedgerRowView(row)))
    }

    private func ledgerKept() throws(APIError) -> Meter {
        guard let meter else { throw .notFound("This server keeps no ledger.", code: "no_ledger") }
        return meter
    }

    /// A UTC date (YYYY-MM-DD) as Unix seconds at its midnight.
    static func day(_ text: String?, param: String) throws(APIError) -> Double? {
        guard let text else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        guard let date = f.date(from: text) else {
            throw .invalidRequest("\(param) must be a date like 2026-11-01, got '\(text)'.", param: param, code: "invalid_value")
        }
        return date.timeIntervalSince1970
    }
}

/// A ledger row on the wire.
struct LedgerRowView: Encodable {
    let requestId: String, created: Double, keyName: String, tier: String, model: String, route: String, status: Int
    let promptTokens: Int, cachedTokens: Int, completionTokens: Int, priceUsdPerMtok: Decimal, costUsd: Decimal
    let timeToFirstToken: Double?, duration: Double, finishReason: String, batchId: String?

    init(_ r: LedgerRow) {
        requestId = r.requestID
        created = r.createdAt
        keyName = r.keyName
        tier = r.tier
        model = r.model
        route = r.route
        status = r.status
        promptTokens = r.promptTokens
        cachedTokens = r.cachedTokens
        completionTokens = r.completionTokens
        priceUsdPerMtok = r.ratePerMillion
        costUsd = r.costUSD
        timeToFirstToken = r.timeToFirstToken
        duration = r.duration
        finishReason = r.outcome.rawValue
        batchId = r.batchID
    }
}
