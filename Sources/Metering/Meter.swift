import Foundation

/// Who is calling, as the API key file says (open access bills as "anonymous", on demand).
/// An admin sees everyone's usage; others only their own. Without API keys the server is open and everyone is an admin.
public struct Caller: Sendable, Equatable, Codable {
    public var name: String
    public var tier: Tier
    public var isAdmin: Bool
    public init(name: String, tier: Tier, isAdmin: Bool = false) {
        self.name = name
        self.tier = tier
        self.isAdmin = isAdmin
    }
    public static let anonymous = Caller(name: "anonymous", tier: .onDemand, isAdmin: true)

    /// Files, batches and usage belong to a key: its own caller and admins see them, nobody else.
    public func canSee(_ owner: Caller) -> Bool { isAdmin || owner.name == name }
}

public enum Tier: String, Sendable, Equatable, Codable {
    case onDemand = "on-demand"
    case reserved
}

/// What one request is billed: tokens × the caller's rate, exactly.
public struct Charge: Sendable, Equatable {
    public var tier: Tier
    public var ratePerMillion: Decimal
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }
    public var cost: Decimal { Cost.of(tokens: totalTokens, perMillion: ratePerMillion) }

    /// The metering headers of a non-streamed response (DESIGN.md).
    public var headers: [(String, String)] {
        [("x-wafer-prompt-tokens", "\(promptTokens)"), ("x-wafer-completion-tokens", "\(completionTokens)"),
         ("x-wafer-total-tokens", "\(totalTokens)"), ("x-wafer-price-usd-per-mtok", Cost.text(ratePerMillion)),
         ("x-wafer-tier", tier.rawValue), ("x-wafer-cost-usd", Cost.text(cost)), ("x-wafer-route", "local")]
    }
}

/// Prices requests and writes them to the ledger.
public final class Meter: Sendable {
    public let prices: PriceSheet
    public let ledger: Ledger

    public init(prices: PriceSheet, ledger: Ledger) {
        self.prices = prices
        self.ledger = ledger
    }

    /// The flat rate for `model` on `tier` (nil when the sheet has no price for it).
    public func rate(model: String, tier: Tier) -> Decimal? {
        guard let price = prices.price(for: model) else { return nil }
        return tier == .reserved ? price.reservedPerMillion : price.onDemandPerMillion
    }

    public func charge(model: String, caller: Caller, promptTokens: Int, completionTokens: Int) -> Charge {
        Charge(tier: caller.tier, ratePerMillion: rate(model: model, tier: caller.tier) ?? 0,
               promptTokens: promptTokens, completionTokens: completionTokens)
    }
}
