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

/// Where a request was served: by the local engine, or by the upstream the overflow route sends bursts to.
public enum ServedBy: String, Sendable, Equatable, Codable, CaseIterable {
    case local, fallback
}

/// What one request is billed, exactly: prompt tokens × the prompt rate +
/// completion tokens × the completion rate. Locally both are the caller's
/// flat rate; the upstream charges its split rates.
public struct Charge: Sendable, Equatable {
    public var tier: Tier
    public var servedBy: ServedBy
    /// The upstream's name, when it served the request.
    public var upstream: String?
    public var promptRatePerMillion: Decimal
    public var completionRatePerMillion: Decimal
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int { promptTokens + completionTokens }
    public var cost: Decimal {
        Cost.of(tokens: promptTokens, perMillion: promptRatePerMillion) + Cost.of(tokens: completionTokens, perMillion: completionRatePerMillion)
    }
    public init(tier: Tier, servedBy: ServedBy, upstream: String?, promptRatePerMillion: Decimal, completionRatePerMillion: Decimal,
                promptTokens: Int, completionTokens: Int) {
        self.tier = tier
        self.servedBy = servedBy
        self.upstream = upstream
        self.promptRatePerMillion = promptRatePerMillion
        self.completionRatePerMillion = completionRatePerMillion
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    /// The one rate, when prompt and completion share it (always, locally).
    public var ratePerMillion: Decimal? { promptRatePerMillion == completionRatePerMillion ? promptRatePerMillion : nil }

    /// The metering headers of a non-streamed response (DESIGN.md); both rates are sent when they differ.
    public var headers: [(String, String)] {
        var h = [("x-wafer-prompt-tokens", "\(promptTokens)"), ("x-wafer-completion-tokens", "\(completionTokens)"),
                 ("x-wafer-total-tokens", "\(totalTokens)")]
        if let ratePerMillion { h.append(("x-wafer-price-usd-per-mtok", Cost.text(ratePerMillion))) }
        h += [("x-wafer-prompt-price-usd-per-mtok", Cost.text(promptRatePerMillion)),
              ("x-wafer-completion-price-usd-per-mtok", Cost.text(completionRatePerMillion)),
              ("x-wafer-tier", tier.rawValue), ("x-wafer-cost-usd", Cost.text(cost)), ("x-wafer-route", servedBy.rawValue)]
        if let upstream { h.append(("x-wafer-upstream", upstream)) }
        return h
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

    /// Served locally: the caller's flat rate for `model`.
    public func charge(model: String, caller: Caller, promptTokens: Int, completionTokens: Int) -> Charge {
        let rate = rate(model: model, tier: caller.tier) ?? 0
        return Charge(tier: caller.tier, servedBy: .local, upstream: nil, promptRatePerMillion: rate, completionRatePerMillion: rate,
                      promptTokens: promptTokens, completionTokens: completionTokens)
    }

    /// Served by the upstream: its split rates.
    public func upstreamCharge(caller: Caller, promptTokens: Int, completionTokens: Int) -> Charge {
        let u = prices.upstream
        return Charge(tier: caller.tier, servedBy: .fallback, upstream: u.name, promptRatePerMillion: u.promptPerMillion,
                      completionRatePerMillion: u.completionPerMillion, promptTokens: promptTokens, completionTokens: completionTokens)
    }
}
