import Foundation
import Engine
import Metering
import OpenAI

/// The OpenAI-compatible API: routing, auth, request ids and the error
/// envelope around the routes. Runs on the HTTP layer's connection threads.
public final class APIServer: @unchecked Sendable {  // `model` is set once under `lock`; counters under `lock`
    public let keys: APIKeys?
    /// Prices and the ledger; nil serves unmetered (tests of routing only).
    public let meter: Meter?
    private let lock = NSLock()
    private var loadedModel: ServedModel?
    private var loadFailure: String?
    private var responses: [String: Int] = [:]
    private var extensions: [any RouteExtension] = []

    /// For the 413 message; the HTTP layer enforces it.
    let bodyLimit: Int

    public init(keys: APIKeys?, bodyLimit: Int, meter: Meter?) {
        self.keys = keys
        self.bodyLimit = bodyLimit
        self.meter = meter
    }

    /// Adds routes served by another target (the Batch API); call before serving.
    public func register(_ routes: any RouteExtension) { lock.withLock { extensions.append(routes) } }

    /// Called when the model has loaded; until then generation routes answer 503.
    public func ready(_ model: ServedModel) { lock.withLock { loadedModel = model } }

    public func failedToLoad(_ message: String) { lock.withLock { loadFailure = message } }

    var model: ServedModel? { lock.withLock { loadedModel } }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let id = request.batchLine?.requestID ?? Self.makeID()
        var response: HTTPResponse
        var caller: Caller?
        do {
            if let line = request.batchLine { caller = line.owner } else if request.path.hasPrefix("/v1/") { caller = try authorize(request) }
            response = try route(request, id: id, caller: caller ?? .anonymous)
        } catch {
            response = Self.errorResponse(error)
            // A refused generation request still gets its (token-free) ledger row.
            if let caller, Self.isGeneration(request.path), let model {
                _ = try? record(LedgerRow(requestID: id, createdAt: Date().timeIntervalSince1970, keyName: caller.name,
                                          tier: caller.tier.rawValue, model: model.id, route: request.path, status: error.status,
                                          promptTokens: 0, cachedTokens: 0, completionTokens: 0,
                                          ratePerMillion: meter?.rate(model: model.id, tier: caller.tier) ?? 0, costUSD: 0,
                                          timeToFirstToken: nil, duration: 0, finishReason: "refused", batchID: request.batchLine?.batchID,
                                          customID: request.batchLine?.customID))
            }
        }
        response.headers.insert(("x-request-id", id), at: 0)
        let route = Self.routeLabel(request.path)
        lock.withLock { responses["\(route) \(response.status)", default: 0] += 1 }
        return response
    }

    public static func errorResponse(_ error: APIError) -> HTTPResponse {
        .json(error.body, status: error.status, headers: error.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    static func isGeneration(_ path: String) -> Bool { path == "/v1/chat/completions" || path == "/v1/completions" }

    /// Reserves the job's row before it runs (prompt tokens billed, finish reason
    /// `running`): if the ledger cannot be written, the request is refused
    /// before any output exists; its end updates the same row.
    func reserve(_ job: GenerationJob) throws(APIError) {
        guard let meter else { return }
        let charge = job.charge([], meter: meter)
        do { try meter.ledger.record(job.ledgerRow([], charge: charge, status: 0, finishReason: LedgerRow.running)) } catch {
            throw .unavailable("The ledger cannot be written (\(error)); requests are refused until it recovers.",
                               code: APIError.ledgerUnavailableCode)
        }
    }

    /// Writes a ledger row and waits until it is durable (no-op when unmetered).
    func record(_ row: LedgerRow) throws(APIError) {
        guard let meter else { return }
        do { try meter.ledger.record(row) } catch {
            throw .server("The request could not be metered (\(error)); it is not billed and its output is withheld.")
        }
    }

    private func route(_ request: HTTPRequest, id: String, caller: Caller) throws(APIError) -> HTTPResponse {
        if request.bodyTooLarge { throw .bodyTooLarge(limit: bodyLimit) }
        let path = request.path.count > 1 && request.path.hasSuffix("/") ? String(request.path.dropLast()) : request.path
        func only(_ method: String) throws(APIError) {
            let allowed = request.method == "HEAD" && method == "GET" ? "HEAD" : method
            guard request.method == allowed else { throw .methodNotAllowed(request.method, path: path, allowed: [method]) }
        }
        switch path {
        case "/health":
            try only("GET")
            if let loadFailure = lock.withLock({ loadFailure }) { throw .unavailable("The model failed to load: \(loadFailure)") }
            guard model != nil else { throw .unavailable("The model is loading.") }
            if case .failed(let reason) = meter?.ledger.state {
                throw .unavailable("The ledger cannot be written (\(reason)); requests are refused until it recovers.",
                                   code: APIError.ledgerUnavailableCode)
            }
            return .json(Data(#"{"status":"ok","ledger":"ok"}"#.utf8))
        case "/metrics":
            try only("GET")
            return .text(metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        default:
            break
        }
        guard path.hasPrefix("/v1/") else { throw .notFound("Unknown route \(request.method) \(path).", code: "unknown_route") }
        if path == "/v1/usage" || path.hasPrefix("/v1/usage/requests/") {
            try only("GET")
            return try usage(request, path: path, caller: caller)
        }
        for routes in lock.withLock({ extensions }) {
            if let response = try routes.respond(to: request, path: path, caller: caller) { return response }
        }
        let model = try readyModel()
        let price = meter?.rate(model: model.id, tier: .onDemand)
        switch path {
        case "/v1/models":
            try only("GET")
            return .json(WireJSON.encode(ModelList(data: [model.object(price: price)])))
        case "/v1/chat/completions":
            try only("POST")
            var job = try GenerationJob.chat(request.body, model: model, id: id, caller: caller, route: path)
            job.setBatch(request.batchLine)
            return try run(job, peer: request.peer)
        case "/v1/completions":
            try only("POST")
            var job = try GenerationJob.completion(request.body, model: model, id: id, caller: caller, route: path)
            job.setBatch(request.batchLine)
            return try run(job, peer: request.peer)
        case _ where path.hasPrefix("/v1/models/"):
            try only("GET")
            let name = String(path.dropFirst("/v1/models/".count)).removingPercentEncoding ?? ""
            guard name == model.id else { throw Self.unknownModel(name) }
            return .json(WireJSON.encode(model.object(price: price)))
        default:
            throw .notFound("Unknown route \(request.method) \(path).", code: "unknown_route")
        }
    }

    private func authorize(_ request: HTTPRequest) throws(APIError) -> Caller {
        guard let keys else { return .anonymous }
        guard let header = request.headers["authorization"], header.hasPrefix("Bearer "),
              let entry = keys.match(String(header.dropFirst("Bearer ".count))) else { throw .unauthorized }
        return Caller(name: entry.name, tier: entry.tier, isAdmin: entry.admin)
    }

    private func readyModel() throws(APIError) -> ServedModel {
        if let loadFailure = lock.withLock({ loadFailure }) { throw .unavailable("The model failed to load: \(loadFailure)") }
        guard let model else { throw .unavailable("The model is loading; retry shortly.") }
        return model
    }

    static func unknownModel(_ name: String) -> APIError {
        .notFound("The model '\(name)' does not exist on this server.", param: "model", code: "model_not_found")
    }

    /// 24 random hex digits: unique per request, and the ledger's key.
    public static func makeID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<3).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max, using: &generator)) }.joined()
    }

    /// A bounded label for metrics: known routes by name, anything else as "other".
    static func routeLabel(_ path: String) -> String {
        switch path {
        case "/health", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/usage", "/v1/files", "/v1/batches": path
        case _ where path.hasPrefix("/v1/files/"): "/v1/files/{id}"
        case _ where path.hasPrefix("/v1/batches/"): "/v1/batches/{id}"
        case _ where path.hasPrefix("/v1/models/"): "/v1/models/{id}"
        default: "other"
        }
    }

    var responseCounts: [String: Int] { lock.withLock { responses } }
}

/// Routes another target adds to the API (behind the same auth, ids and error envelope).
public protocol RouteExtension: Sendable {
    /// The response for `path`, or nil when the path is not one of these routes.
    func respond(to request: HTTPRequest, path: String, caller: Caller) throws(APIError) -> HTTPResponse?
}
