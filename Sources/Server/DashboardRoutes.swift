import Foundation
import Dashboard
import Engine
import Metering
import OpenAI

extension APIServer {
    /// `GET /dashboard/data`: the page's figures for the caller (an admin key,
    /// or an open server, sees every key; another key its own), read from the
    /// ledger and the engine's counters.
    func dashboardData(caller: Caller) throws(APIError) -> HTTPResponse {
        guard let meter else { throw .notFound("This server keeps no ledger.", code: "no_ledger") }
        let now = Date().timeIntervalSince1970
        var live: DashboardData.Live?
        if let served = service.model {
            let m = served.engine.metrics()
            func ms(_ h: LatencyHistogram, _ q: Double) -> Double? { h.quantile(q).map { $0 * 1000 } }
            live = DashboardData.Live(model: served.id, kernels: Engine.instructionSet,
                                      tokensPerSecond: tokensPerSecond(now: now, tokens: m.promptTokens + m.generatedTokens),
                                      queuedSequences: m.queuedSequences, runningSequences: m.activeSequences,
                                      ttftP50Ms: ms(m.timeToFirstToken, 0.5), ttftP99Ms: ms(m.timeToFirstToken, 0.99),
                                      itlP50Ms: ms(m.interTokenLatency, 0.5), itlP99Ms: ms(m.interTokenLatency, 0.99))
        }
        do {
            let data = try DashboardData(ledger: meter.ledger.reader, prices: meter.prices, keyName: caller.isAdmin ? nil : caller.name,
                                         from: UsageReport.startOfMonth(now), to: now + 1, live: live)
            return .json(WireJSON.encode(data))
        } catch { throw .server("\(error)") }
    }
}
