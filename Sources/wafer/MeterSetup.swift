import Foundation
import Metering

/// The price sheet (`--prices FILE`, else the standard one) and the ledger at
/// `ledger` (a SQLite file, its directory made, or a `postgresql://` URL): what `serve` and `batch` meter with.
func openMeter(pricesPath: String?, ledger location: String) throws(UsageError) -> (prices: PriceSheet, ledger: Ledger) {
    do {
        let prices = try pricesPath.map { try PriceSheet(file: $0) } ?? .standard
        if !PostgresConnection.isURL(location) {
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: location).deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
        }
        return (prices, try Ledger(location: location))
    } catch { throw UsageError("\(error)") }
}
