import Foundation
import Dashboard
import Metering
import OpenAI
import Serving

/// The OpenAI-compatible API over HTTP: one route table (from which routing,
/// 405s and metric labels all come), auth, request ids, bytes ↔ Codable, SSE
/// framing and the metering headers. Everything else is the `Service`'s.
/// Runs on the HTTP layer's connection threads.
public final class APIServer: @unchecked Sendable {  // `routes` is set before serving; counters under `lock`
    public let keys: APIKeys?
    public let service: Service
    /// `--cors-origin`: the origin browser clients may call from (`*` for any); nil sends no CORS headers.
    public let corsOrigin: String?
    private let lock = NSLock()
    private var responses: [String: Int] = [:]
    private var routes: [Route] = []
    /// The dashboard's last reading of tokens processed, for its tokens/s.
    private var throughputSample: (time: Double, tokens: Int)?

    /// For the 413 message; the HTTP layer enforces it.
    let bodyLimit: Int

    public init(keys: APIKeys?, bodyLimit: Int, service: Service, corsOrigin: String? = nil) {
        self.keys = keys
        self.bodyLimit = bodyLimit
        self.service = service
        self.corsOrigin = corsOrigin
        routes = ownRoutes()
    }

    /// Tokens per second since the dashboard's previous reading (0 on the first).
    func tokensPerSecond(now: Double, tokens: Int) -> Double {
        lock.withLock {
            defer { throughputSample = (now, tokens) }
            guard let last = throughputSample, now > last.time, tokens >= last.tokens else { return 0 }
            return Double(tokens - last.tokens) / (now - last.time)
        }
    }

    /// An unmetered server (tests of routing).
    public convenience init(keys: APIKeys?, bodyLimit: Int, meter: Meter?) {
        self.init(keys: keys, bodyLimit: bodyLimit, service: Service(meter: meter))
    }

    public var meter: Meter? { service.meter }

    /// Adds routes served by another target (the Batch API); call before serving.
    public func register(_ extra: [APIRoute]) {
        let added = extra.map { route in
            Route(route.method, route.path) { request, match throws(APIError) in
                let input = APIRouteRequest(parameters: match.parameters, query: request.query, body: request.body,
                                            contentType: request.headers["content-type"] ?? "", caller: match.caller)
                switch try route.handle(input) {
                case .json(let data): return .json(data)
                case .bytes(let data, let type): return HTTPResponse(status: 200, headers: [("Content-Type", type)], body: .data(data))
                }
            }
        }
        lock.withLock { routes += added }
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let id = RequestContext.makeID()
        let path = request.path.count > 1 && request.path.hasSuffix("/") ? String(request.path.dropLast()) : request.path
        var label = "other"
        var response: HTTPResponse
        do {
            if request.method == "OPTIONS", let corsOrigin {
                response = HTTPResponse(status: 204, headers: Self.preflightHeaders(corsOrigin), body: .data(Data()))
            } else {
                response = try dispatch(request, path: path, id: id, label: &label)
            }
        } catch {
            response = Self.errorResponse(error)
        }
        response.headers.insert(("x-request-id", id), at: 0)
        if let corsOrigin, !response.headers.contains(where: { $0.0 == "Access-Control-Allow-Origin" }) {
            response.headers.append(("Access-Control-Allow-Origin", corsOrigin))
        }
        let key = "\(label) \(response.status)"
        lock.withLock { responses[key, default: 0] += 1 }
        return response
    }

    private func dispatch(_ request: HTTPRequest, path: String, id: String, label: inout String) throws(APIError) -> HTTPResponse {
        let table = lock.withLock { routes }
        let matching = table.compactMap { route in route.match(path).map { (route, $0) } }
        guard !matching.isEmpty else {
            // An unknown /v1 path answers as the known ones would first: 401 without a key, 503 while loading.
            if path.hasPrefix("/v1/") {
                _ = try authorize(request)
                _ = try service.readyModel()
            }
            throw .notFound("Unknown route \(request.method) \(path).", code: "unknown_route")
        }
        label = matching[0].0.label
        let caller = matching[0].0.needsKey ? try authorize(request) : .anonymous
        let method = request.method == "HEAD" ? "GET" : request.method
        guard let (route, parameters) = matching.first(where: { $0.0.method == method }) else {
            throw .methodNotAllowed(request.method, path: path, allowed: matching.map(\.0.method))
        }
        if request.bodyTooLarge {
            let error = APIError.bodyTooLarge(limit: bodyLimit)
            if let endpoint = route.endpoint { service.refused(error, endpoint: endpoint, context: RequestContext(id: id, caller: caller)) }
            throw error
        }
        return try route.handle(request, Route.Match(parameters: parameters, id: id, caller: caller))
    }

    /// The routes this target serves itself.
    private func ownRoutes() -> [Route] {
        [
            Route("GET", "/health", needsKey: false) { [unowned self] _, _ throws(APIError) in
                try service.health()
                return .json(Data(#"{"status":"ok","ledger":"ok"}"#.utf8))
            },
            Route("GET", "/metrics", needsKey: false) { [unowned self] _, _ in
                .text(metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8")
            },
            Route("GET", "/v1/models") { [unowned self] _, _ throws(APIError) in .json(WireJSON.encode(try service.models())) },
            Route("GET", "/v1/models/{id}") { [unowned self] _, match throws(APIError) in
                let name = match.parameters[0].removingPercentEncoding ?? ""
                let model = try service.model(named: name)
                return .json(WireJSON.encode(model.object(price: meter?.rate(model: model.id, tier: .onDemand))))
            },
            Route("POST", Endpoint.chatCompletions.rawValue, endpoint: .chatCompletions) { [unowned self] request, match throws(APIError) in
                let context = self.context(request, match)
                let body = try decode(ChatCompletionRequest.self, request, .chatCompletions, context)
                return Self.response(try service.chat(body, context: context))
            },
            Route("POST", Endpoint.completions.rawValue, endpoint: .completions) { [unowned self] request, match throws(APIError) in
                let context = self.context(request, match)
                let body = try decode(CompletionRequest.self, request, .completions, context)
                return Self.response(try service.completion(body, context: context))
            },
            Route("POST", Endpoint.responses.rawValue, endpoint: .responses) { [unowned self] request, match throws(APIError) in
                let context = self.context(request, match)
                let body = try decode(ResponsesRequest.self, request, .responses, context)
                return Self.response(try service.responses(body, context: context))
            },
            Route("GET", "/v1/usage") { [unowned self] request, match throws(APIError) in try usage(request, caller: match.caller) },
            Route("GET", "/dashboard", needsKey: false) { _, _ in .text(DashboardPage.live, contentType: "text/html; charset=utf-8") },
            Route("GET", "/dashboard/data") { [unowned self] _, match throws(APIError) in try dashboardData(caller: match.caller) },
            Route("GET", "/v1/usage/requests/{id}") { [unowned self] _, match throws(APIError) in
                try usageRow(match.parameters[0], caller: match.caller)
            },
        ]
    }

    private func context(_ request: HTTPRequest, _ match: Route.Match) -> RequestContext {
        RequestContext(id: match.id, caller: match.caller, client: request.peer)
    }

    /// Bytes to a typed request; a body that does not decode is refused (and metered as refused).
    /// While the model loads, every generation request gets the 503 that says so, whatever its body.
    private func decode<T: Decodable>(_ type: T.Type, _ request: HTTPRequest, _ endpoint: Endpoint,
                                      _ context: RequestContext) throws(APIError) -> T {
        _ = try service.readyModel()
        do { return try JSONDecoder.request(type, from: request.body) } catch {
            service.refused(error, endpoint: endpoint, context: context)
            throw error
        }
    }

    /// A generation as HTTP: the body with its metering headers, or server-sent events.
    static func response(_ generation: Generation) -> HTTPResponse {
        switch generation {
        case .completed(let completed):
            return .json(completed.json, headers: completed.charge?.headers ?? [])
        case .streaming(let stream):
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")],
                                body: .stream(ServerSentEvents(stream)))
        }
    }

    public static func errorResponse(_ error: APIError) -> HTTPResponse {
        .json(error.body, status: error.status, headers: error.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    private static func preflightHeaders(_ origin: String) -> [(String, String)] {
        [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
         ("Access-Control-Allow-Headers", "Authorization, Content-Type, OpenAI-Organization, OpenAI-Project, X-Stainless-OS, "
             + "X-Stainless-Lang, X-Stainless-Package-Version, X-Stainless-Runtime, X-Stainless-Runtime-Version, X-Stainless-Arch, "
             + "X-Stainless-Retry-Count, X-Stainless-Timeout"),
         ("Access-Control-Max-Age", "600")]
    }

    private func authorize(_ request: HTTPRequest) throws(APIError) -> Caller {
        guard let keys else { return .anonymous }
        guard let header = request.headers["authorization"], header.hasPrefix("Bearer "),
              let entry = keys.match(String(header.dropFirst("Bearer ".count))) else { throw .unauthorized }
        return Caller(name: entry.name, tier: entry.tier, isAdmin: entry.admin)
    }

    var responseCounts: [String: Int] { lock.withLock { responses } }
}

/// One entry of the route table: a method, a path pattern (`{…}` for a
/// parameter; the pattern is also the metrics label) and its handler.
struct Route {
    struct Match {
        let parameters: [String]
        let id: String
        let caller: Caller
    }

    let method: String
    let label: String
    private let segments: [Substring]
    /// /v1 routes need an API key (when keys are configured).
    let needsKey: Bool
    /// Generation routes: refusals before the service runs are metered too.
    let endpoint: Endpoint?
    let handle: (HTTPRequest, Match) throws(APIError) -> HTTPResponse

    init(_ method: String, _ path: String, needsKey: Bool = true, endpoint: Endpoint? = nil,
         _ handle: @escaping (HTTPRequest, Match) throws(APIError) -> HTTPResponse) {
        self.method = method
        label = path
        segments = path.split(separator: "/")
        self.needsKey = needsKey
        self.endpoint = endpoint
        self.handle = handle
    }

    /// The parameters if `path` fits the pattern.
    func match(_ path: String) -> [String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard parts.count == segments.count else { return nil }
        var parameters: [String] = []
        for (part, segment) in zip(parts, segments) {
            if segment.hasPrefix("{") {
                guard !part.isEmpty else { return nil }
                parameters.append(String(part))
            } else if part != segment {
                return nil
            }
        }
        return parameters
    }
}

/// A generation stream framed as server-sent events: `data: {chunk}` per event,
/// `data: [DONE]` at the end, or OpenAI's error envelope as the last event.
final class ServerSentEvents: ResponseStream, @unchecked Sendable {  // used by the connection's thread only
    private let stream: any GenerationStream

    init(_ stream: any GenerationStream) { self.stream = stream }

    func next() -> Data? {
        guard let events = stream.next() else { return nil }
        var data = Data()
        for event in events {
            switch event {
            case .chat(let chunk): data += Self.frame(WireJSON.encode(chunk))
            case .text(let chunk): data += Self.frame(WireJSON.encode(chunk))
            case .failed(let error): data += Self.frame(error.body)
            case .named(let name, let json): data += Data("event: \(name)\n".utf8) + Self.frame(json)
            case .done: data += Self.frame(Data("[DONE]".utf8))
            }
        }
        return data
    }

    func close() { stream.close() }

    private static func frame(_ json: Data) -> Data { Data("data: ".utf8) + json + Data("\n\n".utf8) }
}

extension PeerWatch: ClientPresence {
    public var hasLeft: Bool { hasHungUp }
}
