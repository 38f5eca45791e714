import Foundation
import Engine
import Metering
import OpenAI

/// The one path from a typed request to the engine and back, shared by the
/// HTTP server and the batch runner: validation, prompt building, metering
/// (a row reserved before the request runs, completed at its end), responses
/// and charges. Thread-safe: called from every connection and batch worker.
public final class Service: @unchecked Sendable {  // `loaded`, `loadFailure` and `routes` under `lock`
    /// Prices and the ledger; nil serves unmetered (tests of routing only).
    public let meter: Meter?
    /// Where bursts go when the local queue is deep (`--upstream`); nil serves everything locally.
    public let overflow: OverflowRoute?
    /// What a request may ask for (`n`, stop strings, prompt tokens) and how long it may run.
    public let limits: RequestLimits
    let lock = NSLock()
    private var loaded: ServedModel?
    private var loadFailure: String?
    var routes = RouteMetrics()

    public init(meter: Meter?, overflow: OverflowRoute? = nil, limits: RequestLimits = RequestLimits()) {
        self.meter = meter
        self.overflow = overflow
        self.limits = limits
    }

    /// Requests and tokens by route, and the upstream's errors and latency, for `/metrics`.
    public var routeMetrics: RouteMetrics { lock.withLock { routes } }

    /// Called when the model has loaded; until then generation answers 503.
    public func ready(_ model: ServedModel) { lock.withLock { loaded = model } }

    public func failedToLoad(_ message: String) { lock.withLock { loadFailure = message } }

    /// The model once loaded (nil while loading or after a failed load).
    public var model: ServedModel? { lock.withLock { loaded } }

    /// The model, or the 503 that says why there is none.
    public func readyModel() throws(APIError) -> ServedModel {
        if let loadFailure = lock.withLock({ loadFailure }) { throw .unavailable("The model failed to load: \(loadFailure)") }
        guard let model else { throw .unavailable("The model is loading; retry shortly.") }
        return model
    }

    /// Nothing when ready to serve; otherwise the 503 that says why not (loading, load failed, ledger failing).
    public func health() throws(APIError) {
        if let loadFailure = lock.withLock({ loadFailure }) { throw .unavailable("The model failed to load: \(loadFailure)") }
        guard model != nil else { throw .unavailable("The model is loading.") }
        if case .failed(let reason) = meter?.ledger.state { throw Self.ledgerUnavailable(reason) }
    }

    static func ledgerUnavailable(_ reason: String) -> APIError {
        .unavailable("The ledger cannot be written (\(reason)); requests are refused until it recovers.",
                     code: APIError.ledgerUnavailableCode)
    }

    /// The model `name` if this server answers to it; the 404 names the models it serves.
    public func model(named name: String) throws(APIError) -> ServedModel {
        let model = try readyModel()
        guard model.answers(to: name) else {
            let served = ([model.id] + model.aliases).map { "'\($0)'" }.joined(separator: ", ")
            throw .notFound("The model '\(name)' does not exist on this server; it serves \(served).", param: "model",
                            code: "model_not_found")
        }
        return model
    }

    /// The models list (one model, with its on-demand price).
    public func models() throws(APIError) -> ModelList {
        let model = try readyModel()
        return ModelList(data: [model.object(price: meter?.rate(model: model.id, tier: .onDemand))])
    }

    // MARK: Generation

    public func chat(_ request: ChatCompletionRequest, context: RequestContext) throws(APIError) -> Generation {
        try chat(request, context: context, route: .chatCompletions)
    }

    /// A chat completion whose rows name `route` (`/v1/responses` runs as one).
    func chat(_ request: ChatCompletionRequest, context: RequestContext, route: Endpoint) throws(APIError) -> Generation {
        try refusing(route, context) { () throws(APIError) in
            let model = try model(named: request.model)
            if let generation = try overflowing(.chat(request), route: route, model: model, context: context) { return generation }
            return try run(try GenerationPlan.chat(request, model: model, limits: limits, context: context, route: route))
        }
    }

    public func completion(_ request: CompletionRequest, context: RequestContext) throws(APIError) -> Generation {
        try refusing(.completions, context) { () throws(APIError) in
            let model = try model(named: request.model)
            if let generation = try overflowing(.completion(request), route: .completions, model: model, context: context) { return generation }
            return try run(try GenerationPlan.completion(request, model: model, limits: limits, context: context))
        }
    }

    func countLocal(tokens: Int) { lock.withLock { routes.count(.local, tokens: tokens) } }

    /// A generation request refused before it ran (a body that did not decode, an invalid value, a full
    /// queue) still gets its token-free ledger row, so every request the API saw is accounted for.
    public func refused(_ error: APIError, endpoint: Endpoint, context: RequestContext) {
        guard let meter, let model else { return }
        _ = try? meter.ledger.record(emptyRow(endpoint, model: model, context: context, status: error.status, outcome: .refused,
                                              rate: meter.rate(model: model.id, tier: context.caller.tier) ?? 0))
    }

    /// A row with no tokens yet: a refusal, or a reservation before the request runs.
    func emptyRow(_ endpoint: Endpoint, model: ServedModel, context: RequestContext, status: Int, outcome: RequestOutcome,
                          rate: Decimal, servedBy: ServedBy = .local, upstream: String? = nil) -> LedgerRow {
        LedgerRow(requestID: context.id, createdAt: Date().timeIntervalSince1970, keyName: context.caller.name,
                  tier: context.caller.tier.rawValue, model: model.id, route: endpoint.rawValue, status: status, promptTokens: 0,
                  cachedTokens: 0, completionTokens: 0, ratePerMillion: rate, costUSD: 0, timeToFirstToken: nil, duration: 0,
                  outcome: outcome, batchID: context.batchLine?.batchID, customID: context.batchLine?.customID, servedBy: servedBy,
                  upstream: upstream)
    }

    private func refusing(_ endpoint: Endpoint, _ context: RequestContext,
                          _ body: () throws(APIError) -> Generation) throws(APIError) -> Generation {
        do { return try body() } catch {
            if !error.isMetered { refused(error, endpoint: endpoint, context: context) }
            throw error
        }
    }

    /// Reserves the row, submits, and waits for the end or hands out the
    /// stream. A refusal (queue full, ledger failing) comes before any output.
    private func run(_ plan: GenerationPlan) throws(APIError) -> Generation {
        try reserve(plan)
        let waiter: GenerationWaiter
        // Batch lines wait behind interactive work for as long as it takes: no deadline.
        let deadline = plan.context.batchLine == nil ? Date(timeIntervalSinceNow: limits.timeoutSeconds) : nil
        do { waiter = try GenerationWaiter(engine: plan.model.engine, parts: plan.parts, deadline: deadline) } catch { throw APIError(error) }
        if plan.stream { return .streaming(ChunkStream(plan: plan, waiter: waiter, service: self)) }
        let finished = waiter.results(watching: plan.context.client).compactMap { $0 }
        guard finished.count == plan.parts.count else { throw .server("A generation did not finish.") }
        let charge = plan.charge(finished, meter: meter)
        if var failure = cutShort(finished, clientLeft: plan.context.client.hasLeft, timedOut: waiter.timedOut) {
            try record(plan.ledgerRow(finished, charge: charge, status: failure.status))
            failure.isMetered = true
            throw failure
        }
        let body = plan.body(finished, charge: charge)
        let json = WireJSON.encode(body)
        try record(plan.ledgerRow(finished, charge: charge, status: 200, response: json))
        countLocal(tokens: charge?.totalTokens ?? 0)
        return .completed(CompletedResponse(body: body, json: json, charge: charge))
    }

    /// Why the server ended parts before their end, if it did; a client that left is not told anything.
    func cutShort(_ results: [GenerationResult], clientLeft: Bool, timedOut: Bool) -> APIError? {
        if let error = results.compactMap(\.error).first { return .server("The model failed: \(error)") }
        guard !clientLeft, results.contains(where: { $0.choices.contains { $0.finishReason == .cancelled } }) else { return nil }
        if timedOut {
            return APIError(status: 504, type: "server_error", message: "The request ran past the server's request timeout "
                            + "(\(limits.timeoutSeconds) s); the response was cut short. The tokens produced are billed.",
                            code: "request_timeout")
        }
        return .unavailable("The server is shutting down; the response was cut short. The tokens produced are billed.")
    }

    /// Reserves the plan's row before it runs (prompt tokens billed, outcome
    /// `running`): if the ledger cannot be written, the request is refused
    /// before any output exists; its end updates the same row.
    private func reserve(_ plan: GenerationPlan) throws(APIError) {
        guard let meter else { return }
        do { try meter.ledger.record(plan.ledgerRow([], charge: plan.charge([], meter: meter), status: 0, outcome: .running)) } catch {
            throw Self.ledgerUnavailable("\(error)")
        }
    }

    /// Writes a ledger row and waits until it is durable (no-op when unmetered).
    func record(_ row: LedgerRow) throws(APIError) {
        guard let meter else { return }
        do { try meter.ledger.record(row) } catch {
            throw .server("The request could not be metered (\(error)); it is not billed and its output is withheld.")
        }
    }
}

/// Requests and tokens by where they were served, and how the upstream behaved.
public struct RouteMetrics: Sendable {
    public var requests: [ServedBy: Int] = [:]
    public var tokens: [ServedBy: Int] = [:]
    /// Upstream failures by kind (`UpstreamError.Kind`).
    public var upstreamErrors: [String: Int] = [:]
    /// Seconds from the upstream call to its first event.
    public var upstreamFirstEvent = LatencyHistogram()

    mutating func count(_ route: ServedBy, tokens count: Int) {
        requests[route, default: 0] += 1
        tokens[route, default: 0] += count
    }
}
