import Foundation
import OpenAI
import Serving

/// One input line of the OpenAI Batch API format,
/// `{"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}`,
/// decoded once: its body straight into the endpoint's typed request.
struct BatchLine {
    let customID: String
    let endpoint: Endpoint
    /// The body as its endpoint's request, or the 400 it gets (as the same body over HTTP would).
    let request: Result<Request, APIError>

    enum Request {
        case chat(ChatCompletionRequest)
        case completion(CompletionRequest)
        case responses(ResponsesRequest)

        var streams: Bool {
            switch self {
            case .chat(let r): r.fields.stream == true
            case .completion(let r): r.fields.stream == true
            case .responses(let r): r.stream == true
            }
        }
    }

    /// A line that is not a request at all; it goes to the error file.
    struct Problem: Error {
        let code: String
        let message: String
        let customID: String?
    }

    static func parse(_ bytes: Data) throws(Problem) -> BatchLine {
        let line: Decoded
        do { line = try JSONDecoder().decode(Decoded.self, from: bytes) } catch {
            throw Problem(code: "invalid_json", message: "The line is not a JSON object.", customID: nil)
        }
        guard let customID = line.customID, !customID.isEmpty else {
            throw Problem(code: "missing_custom_id", message: "The line has no custom_id string.", customID: nil)
        }
        if let key = DuplicateKeys.first(in: bytes) {
            throw Problem(code: "duplicate_key", message: "The key '\(key)' appears twice in one object.", customID: customID)
        }
        let method = line.method ?? "POST"
        guard method == "POST" else {
            throw Problem(code: "invalid_method", message: "method must be POST, got '\(method)'.", customID: customID)
        }
        guard let endpoint = line.url.flatMap(Endpoint.init(rawValue:)) else {
            throw Problem(code: "invalid_url", message: "url must be /v1/chat/completions, /v1/completions or /v1/responses.",
                          customID: customID)
        }
        guard let request = line.request else {
            throw Problem(code: "missing_body", message: "The line has no body object.", customID: customID)
        }
        return BatchLine(customID: customID, endpoint: endpoint, request: request)
    }

    /// The line's fields, each taken if it has the right type; the body decoded by the url's request type.
    private struct Decoded: Decodable {
        let customID: String?
        let method: String?
        let url: String?
        let request: Result<Request, APIError>?

        enum CodingKeys: String, CodingKey { case customID = "custom_id", method, url, body }
        struct AnyKey: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            customID = try? c.decode(String.self, forKey: .customID)
            method = try? c.decode(String.self, forKey: .method)
            url = try? c.decode(String.self, forKey: .url)
            guard (try? c.nestedContainer(keyedBy: AnyKey.self, forKey: .body)) != nil,
                  let endpoint = url.flatMap(Endpoint.init(rawValue:)) else {
                request = nil
                return
            }
            let body = try c.superDecoder(forKey: .body)
            do {
                switch endpoint {
                case .chatCompletions: request = .success(.chat(try ChatCompletionRequest(from: body)))
                case .completions: request = .success(.completion(try CompletionRequest(from: body)))
                case .responses: request = .success(.responses(try ResponsesRequest(from: body)))
                }
            } catch {
                request = .failure(APIError(decoding: error, under: 1))
            }
        }
    }
}

/// A JSON string literal for `text`.
func jsonString(_ text: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .withoutEscapingSlashes
    return String(decoding: (try? encoder.encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
}
