import CSQLite
import Foundation
import Testing
@testable import Metering

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

    @Test func upstreamRatesAreSplitAndExact() throws {
        let sheet = try PriceSheet(json: Data(#"{"models":{"*":{"on_demand_usd_per_mtok":0.5,"reserved_usd_per_mtok":0.25}},"upstream":{"name":"U","prompt_usd_per_mtok":0.80,"completion_usd_per_mtok":2.40}}"#.utf8))
        #expect(sheet.upstream.name == "U" && sheet.upstream.completionPerMillion == Decimal(string: "2.40"))
        #expect(PriceSheet.standard.upstream == PriceSheet.seedUpstream)
        let charge = Charge(tier: .onDemand, servedBy: .fallback, upstream: "U", promptRatePerMillion: sheet.upstream.promptPerMillion,
                            completionRatePerMillion: sheet.upstream.completionPerMillion, promptTokens: 31, completionTokens: 5)
        #expect(charge.cost == Decimal(string: "0.0000368"))  // 31 × 0.80 + 5 × 2.40, per million
        #expect(charge.ratePerMillion == nil)
        #expect(charge.headers.contains { $0 == ("x-wafer-route", "fallback") })
        #expect(!charge.headers.contains { $0.0 == "x-wafer-price-usd-per-mtok" }, "no flat rate to show")
        do {
            _ = try PriceSheet(json: Data(#"{"models":{"*":{"on_demand_usd_per_mtok":1,"reserved_usd_per_mtok":1}},"upstream":{"name":"U","prompt_usd_per_mtok":-1,"completion_usd_per_mtok":1}}"#.utf8))
            Issue.record("a negative upstream rate was accepted")
        } catch { #expect(error.description.contains("upstream.prompt_usd_per_mtok")) }
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
                  outcome: .stop)
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
        #expect(Self.scalar(path, "PRAGMA user_version") == Int64(SQLiteLedger.migrations.count))
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

    @Test func reopeningKeepsRowsAndRefusesNewerSchemas() throws {
        let path = Self.temporaryPath()
        var ledger = try Ledger(path: path)
        try ledger.record(Self.row("a"))
        ledger.close()
        ledger = try Ledger(path: path)
        #expect(Self.scalar(path, "SELECT count(*) FROM requests") == 1)
        try ledger.record(Self.row("b"))
        #expect(Self.scalar(path, "SELECT count(*) FROM requests") == 2)
        ledger.close()

        var db: OpaquePointer?
        sqlite3_open(path, &db)
        sqlite3_exec(db, "PRAGMA user_version = 99", nil, nil, nil)
        sqlite3_close(db)
        #expect(throws: LedgerError.self) { try Ledger(path: path) }
    }

    /// A request's row is reserved at admission and completed at its end: one row, the last values.
    @Test func theSameRequestIDUpdatesItsRow() throws {
        let path = Self.temporaryPath()
        let ledger = try Ledger(path: path)
        var reserved = Self.row("a", tokens: 7)
        reserved.outcome = .running
        reserved.completionTokens = 0
        try ledger.record(reserved)
        #expect(Self.scalar(path, "SELECT count(*) FROM requests WHERE finish_reason = 'running'") == 1)
        var done = Self.row("a", tokens: 7)
        done.completionTokens = 42
        try ledger.record(done)
        #expect(Self.scalar(path, "SELECT count(*) FROM requests") == 1)
        #expect(Self.scalar(path, "SELECT completion_tokens FROM requests WHERE finish_reason = 'stop'") == 42)
        try ledger.record(reserved)  // a reservation left by a process that died...
        ledger.close()
        _ = try Ledger(path: path)  // ...is marked interrupted when the ledger opens again
        #expect(Self.scalar(path, "SELECT count(*) FROM requests WHERE finish_reason = 'interrupted'") == 1)
    }

    /// A ledger written by the first schema gains the batch-line columns and keeps its rows.
    @Test func firstSchemaIsMigrated() throws {
        let path = Self.temporaryPath()
        var db: OpaquePointer?
        sqlite3_open(path, &db)
        sqlite3_exec(db, SQLiteLedger.migrations[0] + "PRAGMA user_version = 1;", nil, nil, nil)
        sqlite3_exec(db, """
            INSERT INTO requests VALUES ('old', 1790000000, 'alice', 'on-demand', 'm', '/v1/completions', 200, 3, 0, 4,
                                        '0.5', '0.0000035', NULL, 0.1, 'stop', NULL)
            """, nil, nil, nil)
        sqlite3_close(db)
        let ledger = try Ledger(path: path)
        var line = Self.row("line")
        line.batchID = "batch_x"
        line.customID = "c1"
        line.response = #"{"ok":true}"#
        try ledger.record(line)
        ledger.close()
        #expect(Self.scalar(path, "PRAGMA user_version") == Int64(SQLiteLedger.migrations.count))
        #expect(Self.scalar(path, "SELECT count(*) FROM requests") == 2)
        let answers = try ledgerReader(path).batchAnswers(batchID: "batch_x")
        #expect(answers["c1"]?.response == #"{"ok":true}"#)
        #expect(answers["c1"]?.requestID == "line")
    }

    @Test func batchLineIDsAreStableAndDistinct() {
        let a = LedgerRow.batchLineID(batchID: "batch_1", customID: "x")
        #expect(a == LedgerRow.batchLineID(batchID: "batch_1", customID: "x"))
        #expect(a.count == 24 && a.allSatisfy(\.isHexDigit))
        #expect(a != LedgerRow.batchLineID(batchID: "batch_1", customID: "y"))
        #expect(a != LedgerRow.batchLineID(batchID: "batch_1x", customID: ""))
    }
}
