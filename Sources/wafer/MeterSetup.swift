import Foundation
import Metering

/// The price sheet (`--prices FILE`, else the standard one) and the ledger at
/// `ledgerPath`, its directory made: what `serve` and `batch` meter with.
func openMeter(pricesPath: String?, ledgerPath: String) throws(UsageError) -> (prices: PriceSheet, ledger: Ledger) {
    do {
        let prices = try pricesPath.map { try PriceSheet(file: $0) } ?? .standard
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: ledgerPath).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        return (prices, try Ledger(path: ledgerPath))
    } catch { throw UsageError("\(error)") }
}
