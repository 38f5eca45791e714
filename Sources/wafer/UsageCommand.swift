import Foundation
import Dashboard
import Metering
import OpenAI

/// `wafer usage --month 2026-11`: the month's bill from the ledger, by key and
/// by model, with what the same traffic would cost at the reference providers.
enum UsageCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        let a = try Arguments(args, valued: ["month", "db", "ledger", "format", "prices", "group-by"])
        let month = a.string("month") ?? UsageReport.monthText(Date().timeIntervalSince1970)
        guard let (from, to) = UsageReport.monthRange(month) else { throw UsageError("--month must look like 2026-11, got '\(month)'") }
        // --ledger (a SQLite path or a postgresql:// URL, as serve takes it); --db is its older name.
        let location = a.string("ledger") ?? a.string("db") ?? "data/ledger.db"
        guard PostgresConnection.isURL(location) || FileManager.default.fileExists(atPath: location) else {
            throw UsageError("no ledger at \(location) (use --ledger PATH or URL)")
        }
        let ledger = ledgerReader(location)
        let prices: PriceSheet
        do { prices = try a.string("prices").map { try PriceSheet(file: $0) } ?? .standard } catch { throw UsageError("\(error)") }
        guard let grouping = UsageReport.Grouping(rawValue: a.string("group-by") ?? "key") else {
            throw UsageError("--group-by must be key, model, tier, hour, day, month or route")
        }
        let report = try UsageReport(ledger: ledger, from: from, to: to, keyName: nil, groupBy: grouping, prices: prices)
        switch a.string("format") ?? "table" {
        case "json":
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        case "csv":
            print("\(grouping.rawValue),requests,prompt_tokens,cached_tokens,completion_tokens,total_tokens,cost_usd")
            for line in report.data + [report.total] {
                print("\(csv(line.group)),\(line.requests),\(line.promptTokens),\(line.cachedTokens),\(line.completionTokens),\(line.totalTokens),\(line.costUsd)")
            }
        case "table":
            print(table(report, month: month))
        case "html":
            // The dashboard's page with the month's figures inside it, for sending to someone.
            let data = try DashboardData(ledger: ledger, prices: prices, keyName: nil, from: from, to: min(to, Date().timeIntervalSince1970 + 1))
            print(DashboardPage.bill(WireJSON.encode(data)))
        case let other:
            throw UsageError("--format must be table, json, csv or html, got '\(other)'")
        }
        return 0
    }

    static func csv(_ field: String) -> String {
        field.contains(where: { ",\"\n".contains($0) }) ? "\"\(field.replacingOccurrences(of: "\"", with: "\"\""))\"" : field
    }

    static func table(_ r: UsageReport, month: String) -> String {
        func row(_ cells: [String]) -> String {
            zip(cells, [16, 10, 14, 14, 14, 14]).map { cell, width in
                cell.count >= width ? cell : String(repeating: " ", count: width - cell.count) + cell
            }.joined(separator: " ")
        }
        var out = ["Usage for \(month) (\(r.from) to \(r.to), by \(r.groupBy))", "",
                   row([r.groupBy, "requests", "prompt", "completion", "total", "cost USD"])]
        for line in r.data + [r.total] {
            out.append(row([line.group, "\(line.requests)", "\(line.promptTokens)", "\(line.completionTokens)", "\(line.totalTokens)",
                            "\(line.costUsd)"]))
        }
        out.append("")
        out.append("by route: " + r.byRoute.map { "\($0.group) \($0.totalTokens) tokens $\($0.costUsd)" }.joined(separator: "; "))
        for bill in r.bill {
            out.append("\(bill.model): \(bill.tokens) tokens; on demand $\(bill.onDemandUsd); reserved $\(bill.reservedUsd) "
                       + "(max(used, \(bill.reservedCommitmentTokens) committed) × reserved rate)")
        }
        out.append("")
        out.append("The same prompt/completion mix elsewhere (billed here: $\(r.total.costUsd)):")
        for c in r.reference { out.append("  \(c.provider): $\(c.costUsd), saving \(c.savingPercent)%") }
        return out.joined(separator: "\n")
    }
}

extension UsageReport {
    /// [first second of the month, first second of the next) in UTC, for "YYYY-MM".
    static func monthRange(_ text: String) -> (Double, Double)? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, text.count == 7, (1...12).contains(parts[1]) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let start = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: 1)),
              let end = calendar.date(byAdding: .month, value: 1, to: start) else { return nil }
        return (start.timeIntervalSince1970, end.timeIntervalSince1970)
    }

    static func monthText(_ seconds: Double) -> String { date(seconds, format: "yyyy-MM") }
}
