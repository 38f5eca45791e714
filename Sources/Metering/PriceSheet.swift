import Foundation

/// What tokens cost: per model, a flat on-demand rate per million tokens
/// (prompt and completion alike, as Cerebras bills), a reserved rate with
/// its monthly commitment, and reference providers with split rates for
/// comparison. Rates are exact decimals (`--prices FILE`, JSON).
public struct PriceSheet: Sendable, Equatable {
    public struct ModelPrice: Sendable, Equatable {
        public var onDemandPerMillion: Decimal
        public var reservedPerMillion: Decimal
        public var reservedCommitmentTokensPerMonth: Int
        public init(onDemandPerMillion: Decimal, reservedPerMillion: Decimal, reservedCommitmentTokensPerMonth: Int) {
            self.onDemandPerMillion = onDemandPerMillion
            self.reservedPerMillion = reservedPerMillion
            self.reservedCommitmentTokensPerMonth = reservedCommitmentTokensPerMonth
        }
    }

    public struct ReferenceProvider: Sendable, Equatable {
        public var name: String
        public var promptPerMillion: Decimal
        public var completionPerMillion: Decimal
        public init(name: String, promptPerMillion: Decimal, completionPerMillion: Decimal) {
            self.name = name
            self.promptPerMillion = promptPerMillion
            self.completionPerMillion = completionPerMillion
        }
    }

    /// Prices by model id; "*" applies to any model not listed.
    public var models: [String: ModelPrice]
    public var referenceProviders: [ReferenceProvider]
    /// What the overflow route's provider charges (requests it serves are billed at its split rates).
    public var upstream: ReferenceProvider

    /// The built-in sheet: Cerebras' published small-model rates ($0.50/M on
    /// demand, $0.25/M reserved with its 10M tokens/month minimum) and the
    /// reference rates from the seed article.
    public static let standard = PriceSheet(
        models: ["*": ModelPrice(onDemandPerMillion: Decimal(string: "0.50")!, reservedPerMillion: Decimal(string: "0.25")!,
                                 reservedCommitmentTokensPerMonth: 10_000_000)],
        referenceProviders: [
            ReferenceProvider(name: "GPT-4.1", promptPerMillion: 2, completionPerMillion: 8),
            ReferenceProvider(name: "Claude Opus", promptPerMillion: 5, completionPerMillion: 25),
        ],
        upstream: Self.seedUpstream)

    /// The seed's overflow example: Together at $0.80/$2.40 per million prompt/completion tokens.
    public static let seedUpstream = ReferenceProvider(name: "Together", promptPerMillion: Decimal(string: "0.80")!,
                                                       completionPerMillion: Decimal(string: "2.40")!)

    public func price(for model: String) -> ModelPrice? { models[model] ?? models["*"] }

    /// Reads and checks a sheet; a bad one is an error naming the field.
    public init(file path: String) throws(PriceSheetError) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw .unreadable(path) }
        try self.init(json: data)
    }

    public init(models: [String: ModelPrice], referenceProviders: [ReferenceProvider], upstream: ReferenceProvider = seedUpstream) {
        self.models = models
        self.referenceProviders = referenceProviders
        self.upstream = upstream
    }

    public init(json data: Data) throws(PriceSheetError) {
        struct File: Decodable {
            struct Model: Decodable {
                let on_demand_usd_per_mtok: Decimal?
                let reserved_usd_per_mtok: Decimal?
                let reserved_commitment_tokens_per_month: Int?
            }
            struct Provider: Decodable {
                let name: String?
                let prompt_usd_per_mtok: Decimal?
                let completion_usd_per_mtok: Decimal?
            }
            let models: [String: Model]?
            let reference_providers: [Provider]?
            let upstream: Provider?
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw .invalid(field: Self.field(of: error), reason: "not the expected JSON type")
        }
        guard let models = file.models, !models.isEmpty else { throw .invalid(field: "models", reason: "must list at least one model (or \"*\")") }
        var parsed: [String: ModelPrice] = [:]
        for (name, m) in models {
            func rate(_ value: Decimal?, _ key: String) throws(PriceSheetError) -> Decimal {
                guard let value else { throw .invalid(field: "models.\(name).\(key)", reason: "is missing") }
                guard value >= 0, value.isFinite else { throw .invalid(field: "models.\(name).\(key)", reason: "must be a price of 0 or more") }
                return value
            }
            let commitment = m.reserved_commitment_tokens_per_month ?? 0
            guard commitment >= 0 else { throw .invalid(field: "models.\(name).reserved_commitment_tokens_per_month", reason: "must be 0 or more") }
            parsed[name] = ModelPrice(onDemandPerMillion: try rate(m.on_demand_usd_per_mtok, "on_demand_usd_per_mtok"),
                                      reservedPerMillion: try rate(m.reserved_usd_per_mtok, "reserved_usd_per_mtok"),
                                      reservedCommitmentTokensPerMonth: commitment)
        }
        func provider(_ p: File.Provider, _ field: String) throws(PriceSheetError) -> ReferenceProvider {
            guard let name = p.name, !name.isEmpty else { throw .invalid(field: "\(field).name", reason: "is missing") }
            guard let prompt = p.prompt_usd_per_mtok, prompt >= 0 else { throw .invalid(field: "\(field).prompt_usd_per_mtok", reason: "must be a price of 0 or more") }
            guard let completion = p.completion_usd_per_mtok, completion >= 0 else {
                throw .invalid(field: "\(field).completion_usd_per_mtok", reason: "must be a price of 0 or more")
            }
            return ReferenceProvider(name: name, promptPerMillion: prompt, completionPerMillion: completion)
        }
        var providers: [ReferenceProvider] = []
        for (i, p) in (file.reference_providers ?? []).enumerated() { providers.append(try provider(p, "reference_providers[\(i)]")) }
        self.init(models: parsed, referenceProviders: providers, upstream: try file.upstream.map { (p) throws(PriceSheetError) in
            try provider(p, "upstream")
        } ?? Self.seedUpstream)
    }

    private static func field(of error: Error) -> String {
        guard case DecodingError.typeMismatch(_, let context) = error else { return "(document)" }
        return context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

public enum PriceSheetError: Error, Equatable, CustomStringConvertible {
    case unreadable(String)
    case invalid(field: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path): "cannot read the price sheet \(path)"
        case .invalid(let field, let reason): "price sheet: \(field) \(reason)"
        }
    }
}

/// Exact decimal cost of tokens at a rate per million.
public enum Cost {
    public static func of(tokens: Int, perMillion rate: Decimal) -> Decimal {
        Decimal(tokens) * rate / 1_000_000
    }

    /// The plain decimal text of an amount (no exponent, no rounding).
    public static func text(_ amount: Decimal) -> String { amount.description }
}

extension PriceSheet {
    /// The same tokens at a reference provider, beside what they were billed here.
    public struct Comparison: Encodable, Sendable {
        public var provider: String
        public var costUsd: Decimal
        /// How much less the billed cost is, in percent of the provider's (two decimals).
        public var savingPercent: Decimal
    }

    /// What `promptTokens` and `completionTokens` cost at each reference provider, and what `billed` saves.
    public func comparisons(promptTokens: Int, completionTokens: Int, billed: Decimal) -> [Comparison] {
        referenceProviders.map { p in
            let cost = Cost.of(tokens: promptTokens, perMillion: p.promptPerMillion)
                + Cost.of(tokens: completionTokens, perMillion: p.completionPerMillion)
            var saving = cost > 0 ? (cost - billed) / cost * 100 : 0
            var rounded = Decimal()
            NSDecimalRound(&rounded, &saving, 2, .plain)
            return Comparison(provider: p.name, costUsd: cost, savingPercent: rounded)
        }
    }
}
