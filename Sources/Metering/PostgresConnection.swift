import CPostgres
import Foundation

/// One libpq connection, used by one thread at a time. Every parameter and
/// result is text (PostgreSQL's own conversions), which keeps decimals exact.
public final class PostgresConnection: @unchecked Sendable {  // one user at a time (the ledger's writer, or a reader)
    private let connection: OpaquePointer

    /// Connects to `url` (`postgresql://user:pass@host:port/db`).
    public init(url: String) throws(LedgerError) {
        guard let c = PQconnectdb(url) else { throw LedgerError("cannot connect to PostgreSQL: out of memory") }
        guard PQstatus(c) == CONNECTION_OK else {
            let message = Self.message(c)
            PQfinish(c)
            throw LedgerError("cannot connect to PostgreSQL: \(message)")
        }
        connection = c
        // Notices (e.g. "relation already exists, skipping") are not errors: keep them off stderr.
        PQsetNoticeProcessor(c, { _, _ in }, nil)
        limitIdleTransactions()
    }

    /// A replica stopped inside a transaction (SIGSTOP, a stalled VM) would hold its
    /// row locks for good, and the replica sweeping its running rows would wait on
    /// them forever; the server ends such a session after 5 s instead (our
    /// transactions take milliseconds), and its writer retries on a new connection.
    private func limitIdleTransactions() {
        try? execute("SET idle_in_transaction_session_timeout = '5s'")
    }

    deinit { PQfinish(connection) }

    public var isConnected: Bool { PQstatus(connection) == CONNECTION_OK }

    /// Reconnects with the same parameters; true if it worked.
    public func reset() -> Bool {
        PQreset(connection)
        if isConnected { limitIdleTransactions() }
        return isConnected
    }

    /// Runs `sql` with `$1`... bound to `parameters` (nil is NULL); the rows, each column as text or nil.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(LedgerError) -> [[String?]] {
        let result = withParameters(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard let result else { throw LedgerError("PostgreSQL: \(Self.message(connection))") }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return (0..<PQntuples(result)).map { row in
                (0..<PQnfields(result)).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                }
            }
        default:
            throw LedgerError("PostgreSQL: \(String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Several statements in one string, no parameters (schema steps).
    public func execute(_ sql: String) throws(LedgerError) {
        guard let result = PQexec(connection, sql) else { throw LedgerError("PostgreSQL: \(Self.message(connection))") }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw LedgerError("PostgreSQL: \(String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    private func withParameters<R>(_ parameters: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        return body(copies.map { $0.map { UnsafePointer($0) } })
    }

    private static func message(_ c: OpaquePointer) -> String {
        String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether `location` names a PostgreSQL database rather than a SQLite file.
    public static func isURL(_ location: String) -> Bool {
        location.hasPrefix("postgresql://") || location.hasPrefix("postgres://")
    }
}
