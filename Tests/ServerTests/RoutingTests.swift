import Foundation
import Testing
import OpenAI
import Metering
@testable import Server

/// Routing, auth and the error envelope, without a model (the server is "loading").
struct RoutingTests {
    let api = APIServer(keys: nil, bodyLimit: 1024, meter: nil)

    func error(_ response: HTTPResponse) throws -> [String: Any] {
        guard case .data(let body) = response.body else { throw ServerError("streamed") }
        let json = try JSONSerialization.jsonObject(with: body) as? [String: Any]
        return try #require(json?["error"] as? [String: Any])
    }

    @Test func everyResponseHasARequestID() {
        let ids = (0..<20).map { _ in api.handle(HTTPRequest(method: "GET", path: "/health")).headers.first }
        #expect(ids.allSatisfy { $0?.0 == "x-request-id" && $0?.1.count == 24 })
        #expect(Set(ids.map { $0?.1 }).count == 20)
    }

    @Test func loadingAnswers503() throws {
        for path in ["/health", "/v1/models", "/v1/chat/completions"] {
            let r = api.handle(HTTPRequest(method: path == "/v1/chat/completions" ? "POST" : "GET", path: path))
            #expect(r.status == 503)
            #expect(try error(r)["type"] as? String == "server_error")
        }
    }

    @Test func unknownRoutesAndMethods() throws {
        #expect(api.handle(HTTPRequest(method: "GET", path: "/nope")).status == 404)
        #expect(api.handle(HTTPRequest(method: "GET", path: "/v1/nope")).status == 503, "v1 routes need the model first")
        let wrong = api.handle(HTTPRequest(method: "POST", path: "/health"))
        #expect(wrong.status == 405)
        #expect(wrong.headers.contains { $0 == ("Allow", "GET") })
        #expect(try error(wrong)["param"] is NSNull)
    }

    @Test func bodyOverTheLimitIs413() throws {
        var request = HTTPRequest(method: "POST", path: "/v1/chat/completions")
        request.bodyTooLarge = true
        let r = api.handle(request)
        #expect(r.status == 413)
        #expect(try error(r)["code"] as? String == "request_too_large")
    }

    @Test func keysAreCheckedBeforeAnythingElse() throws {
        let keyed = APIServer(keys: APIKeys(entries: [try JSONDecoder().decode(APIKeys.Entry.self, from: Data(#"{"key":"sk-12345678","name":"a"}"#.utf8))]),
                              bodyLimit: 1024, meter: nil)
        #expect(keyed.handle(HTTPRequest(method: "GET", path: "/v1/models")).status == 401)
        #expect(keyed.handle(HTTPRequest(method: "GET", path: "/v1/models", headers: ["authorization": "Bearer sk-12345679"])).status == 401)
        #expect(keyed.handle(HTTPRequest(method: "GET", path: "/v1/models", headers: ["authorization": "Bearer sk-12345678"])).status == 503)
        #expect(keyed.handle(HTTPRequest(method: "GET", path: "/health")).status == 503, "health needs no key")
    }

    @Test func keyMatchingIsExact() throws {
        let entries = try ["sk-aaaaaaaa", "sk-aaaaaaaab"].map {
            try JSONDecoder().decode(APIKeys.Entry.self, from: Data(#"{"key":"\#($0)","name":"\#($0)","tier":"reserved"}"#.utf8))
        }
        let keys = APIKeys(entries: entries)
        #expect(keys.match("sk-aaaaaaaa")?.name == "sk-aaaaaaaa")
        #expect(keys.match("sk-aaaaaaaab")?.tier == .reserved)
        #expect(keys.match("sk-aaaaaaa") == nil && keys.match("") == nil && keys.match("sk-aaaaaaaac") == nil)
    }

    @Test func metricsWithoutAModel() {
        let r = api.handle(HTTPRequest(method: "GET", path: "/metrics"))
        guard case .data(let body) = r.body else { Issue.record("streamed"); return }
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains("wafer_up 0"))
        #expect(text.contains("# TYPE wafer_http_responses_total counter"))
    }
}
