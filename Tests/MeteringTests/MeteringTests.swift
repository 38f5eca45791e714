import CSQLite
import Foundation
import Testing
import Metering

struct PriceSheetTests {
    @Test func standardSheetHasTheSeedsRates() {
        let s = PriceSheet.standard
        #expect(s.price(for: "any-model")?.onDemandPerMillion == Decimal(string: "0.5"))
        #expect(s.referenceProviders.map(\.name) == ["GPT-4.1", "Claude Opus"])
        #expect(s.referenceProviders[1].completionPerMillion == 25)
    }

    @Test func sampleSheetInTheRepoParses() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("prices.sample.json")
        let s = try PriceSheet(file: url.path)
        #expect(s.price(for: "SmolLM2-135M-Instruct.Q4_1")?.onDemandPerMillion == Decimal(string: "0.10"))
        #expect(s.price(for: "other")?.onDemandPerMillion == Decimal(string: "0.50"))
    }

    @Test(arguments: [
        (#"{}"#, "models"),
        (#"{"models":{"*":{"reserved_usd_per_mtok":1}}}"#, "models.*.on_demand_usd_per_mtok"),
        (#"{"models":{"m":{"on_demand_usd_per_mtok":-1,"reserved_usd_per_mtok":1}}}"#, "models.m.on_demand_usd_per_mtok"),
        (#"{"models":{"m":{"on_demand_usd_per_mtok":"cheap","reserved_usd_per_mtok":1}}}"#, "models.m.on_demand_usd_per_mtok"),
        (#"{"models":{"m":{"on_demand_usd_per_mtok":1,"reserved_usd_per_mtok":1,"reserved_commitment_tokens_per_month":-5}}}"#,
         "models.m.reserved_commitment_tokens_per_month"),
        (#"{"models":{"*":{"on_demand_usd_per_mtok":1,"reserved_usd_per_mtok":1}},"reference_providers":[{"name":"x","prompt_usd_per_mtok":1}]}"#,
         "reference_providers[0].completion_usd_per_mtok"),
    ] as [(String, String)])
    func badSheetsNameTheField(json: String, field: String) {
        do {
            _ = try PriceSheet(json: Data(json.utf8))
            Issue.record("accepted \(json)")
        } catch {
            guard case .invalid(let f, _) = error else { Issue.record("\(error)"); return }
            #expect(f == field)
            #expect(error.description.contains(field))
        }
    }

    @Test func costIsExactDecimal() {
        let rate = Decimal(string: "0.6")!
        #expect(Cost.text(Cost.of(tokens: 7, perMillion: rate)) == "0.0000042")
        var total = Decimal(0)
        for _ in 0..<100_000 { total += Cost.of(tokens: 3, perMillion: Decimal(string: "0.1")!) }
        #expect(total == Decimal(string: "0.03"), "no binary drift over many additions")
        #expect(Cost.of(tokens: 1_000_000_000, perMillion: rate) == 600)
    }
}

struct LedgerTests {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("wafer-ledger-\(UUID().uuidString).db").path
    }

    static func row(_ id: String, key: String = "alice", tokens: Int = 10) -> LedgerRow {
        LedgerRow(requestID: id, createdAt: 1_790_000_000, keyName: key, tier: "on-demand", model: "m", route: "/v1/chat/completions",
                  status: 200, promptTokens: tokens, cachedTokens: 0, completionTokens: 1, ratePerMillion: Decimal(string: "0.5")!,
                  costUSD: Cost.of(tokens: tokens + 1, perMillion: Decimal(string: "0.5")!), timeToFirstToken: 0.01, duration: 0.02,
                  finishReason: "stop")
    }

    /// Reads one integer with a separate connection, as another process would.
    static func scalar(_ path: String, _ sql: String) -> Int64 {
        var db: OpaquePointer?
        sqlite3_open(path, &db)
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        sqlite3_prepare_v2(db, sql, -1, &statement, nil)
        defer { sqlite3_finalize(statement) }
        return sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1
    }

    @Test func recordedRowsAreVisibleToOtherConnectionsAtOnce() throws {
        let path = Self.temporaryPath()
        let ledger = try Ledger(path: path)
        try ledger.record(Self.row("a"))
        #expect(Self.scalar(path, "SELECT count(*) FROM requests") == 1, "committed before record returned")
        try ledger.record(Self.row("b", tokens: 5))
        #expect(Self.scalar(path, "SELECT sum(prompt_tokens) FROM requests") == 15)
        #expect(Self.scalar(path, "PRAGMA user_version") == 1)
        ledger.close()
    }

    @Test func concurrentWritersLoseNothing() throws {
        let path = Self.temporaryPath()
        let ledger = try Ledger(path: path)
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<150 { try? ledger.record(Self.row("r\(t)-\(i)", key: "k\(t)", tokens: t + 1)) }
        }
        ledger.close()
        #expect(Self.scalar(path, "SELECT count(*) FROM requests") == 1200)
        #expect(Self.scalar(path, "SELECT sum(prompt_tokens) FROM requests WHERE key_name = 'k3'") == 600)
    }

    @Test func reopeningKeepsRowsAndRefusesDuplicatesAndNewerSchemas() throws {
        let path = Self.temporaryPath()
        var ledger = try Ledger(path: path)
        try ledger.record(Self.row("a"))
        ledger.close()
        ledger = try Ledger(path: path)
        #expect(Self.scalar(path, "SELECT count(*) FROM requests") == 1)
        #expect(throws: LedgerError.self) { try ledger.record(Self.row("a")) }
        try ledger.record(Self.row("b"))  // one refused row does not stop the ledger
        #expect(Self.scalar(path, "SELECT count(*) FROM requests") == 2)
        ledger.close()

        var db: OpaquePointer?
        sqlite3_open(path, &db)
        sqlite3_exec(db, "PRAGMA user_version = 99", nil, nil, nil)
        sqlite3_close(db)
        #expect(throws: LedgerError.self) { try Ledger(path: path) }
    }
}

struct UsageReportTests {
    @Test func groupsBillsAndComparisons() throws {
        let path = LedgerTests.temporaryPath()
        let ledger = try Ledger(path: path)
        let november = 1_795_000_000.0  // 2026-11-18
        for (i, key) in ["alice", "alice", "bob"].enumerated() {
            var row = LedgerTests.row("r\(i)", key: key, tokens: 999)  // 999 prompt + 1 completion
            row.createdAt = november + Double(i) * 86_400
            try ledger.record(row)
        }
        var outside = LedgerTests.row("old", key: "alice")
        outside.createdAt = november - 40 * 86_400
        try ledger.record(outside)
        ledger.close()

        let sheet = PriceSheet(models: ["*": .init(onDemandPerMillion: 1, reservedPerMillion: Decimal(string: "0.5")!,
                                                   reservedCommitmentTokensPerMonth: 10_000)],
                               referenceProviders: [.init(name: "X", promptPerMillion: 2, completionPerMillion: 8)])
        let byKey = try UsageReport(ledgerPath: path, from: november - 86_400, to: november + 10 * 86_400, keyName: nil, groupBy: .key, prices: sheet)
        #expect(byKey.data.map(\.group) == ["alice", "bob"] && byKey.data.map(\.requests) == [2, 1])
        #expect(byKey.total.totalTokens == 3000 && byKey.total.costUsd == Decimal(string: "0.0015"))
        #expect(byKey.bill[0].onDemandUsd == Decimal(string: "0.003"))
        #expect(byKey.bill[0].reservedUsd == Decimal(string: "0.005"), "reserved bills the commitment when usage is below it")
        #expect(byKey.reference[0].costUsd == Decimal(string: "0.006018"))  // 2997 × 2 + 3 × 8, per million
        let byDay = try UsageReport(ledgerPath: path, from: november - 86_400, to: november + 10 * 86_400, keyName: "alice", groupBy: .day, prices: sheet)
        #expect(byDay.data.map(\.group) == ["2026-11-18", "2026-11-19"])
        let rows = try #require(try LedgerReader.row(path: path, requestID: "r2"))
        #expect(rows.keyName == "bob" && rows.costUSD == Cost.of(tokens: 1000, perMillion: Decimal(string: "0.5")!))
    }
}
