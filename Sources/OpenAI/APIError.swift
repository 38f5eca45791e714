import Foundation

/// An error as OpenAI returns it: an HTTP status and the body
/// `{"error":{"message","type","param","code"}}`. The one error envelope of
/// the server; everything that goes wrong ends up as one of these.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var type: String
    public var message: String
    public var param: String?
    public var code: String?
    /// Extra response headers (Retry-After on 429).
    public var headers: [String: String] = [:]
    /// The request ran and its ledger row already says how it ended: no "refused" row may replace it.
    public var isMetered = false

    public init(status: Int, type: String, message: String, param: String? = nil, code: String? = nil,
                headers: [String: String] = [:]) {
        self.status = status
        self.type = type
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers
    }

    public var description: String { "\(status) \(type): \(message)" }

    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, type: "invalid_request_error", message: message, param: param, code: code)
    }

    public static func notFound(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 404, type: "invalid_request_error", message: message, param: param, code: code)
    }

    public static func methodNotAllowed(_ method: String, path: String, allowed: [String]) -> APIError {
        APIError(status: 405, type: "invalid_request_error", message: "\(method) is not allowed on \(path); use \(allowed.joined(separator: " or "))",
                 code: "method_not_allowed", headers: ["Allow": allowed.joined(separator: ", ")])
    }

    public static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: 413, type: "invalid_request_error", message: "the request body is larger than the limit of \(limit) bytes",
                 code: "request_too_large")
    }

    public static let unauthorized = APIError(
        status: 401, type: "invalid_request_error",
        message: "Incorrect API key provided. Send it as 'Authorization: Bearer KEY'.", code: "invalid_api_key")

    public static func overloaded(_ message: String, retryAfterSeconds: Int) -> APIError {
        APIError(status: 429, type: "rate_limit_error", message: message, code: "queue_full",
                 headers: ["Retry-After": String(retryAfterSeconds)])
    }

    public static func server(_ message: String) -> APIError {
        APIError(status: 500, type: "server_error", message: message, code: "internal_error")
    }

    public static func unavailable(_ message: String, code: String = "service_unavailable") -> APIError {
        APIError(status: 503, type: "server_error", message: message, code: code, headers: ["Retry-After": "1"])
    }

    /// The ledger cannot be written: nothing is served until it can (a batch waits for it).
    public static let ledgerUnavailableCode = "ledger_unavailable"

    /// A body that did not decode into a request: names the field at fault.
    /// `under`: how many keys of the coding path lead to the request (a batch line's `body`), left out of the name.
    public init(decoding error: Error, under depth: Int = 0) {
        func path(_ codingPath: [CodingKey]) -> String? {
            var text = ""
            for key in codingPath.dropFirst(depth) {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return text.isEmpty ? nil : text
        }
        switch error {
        case let error as APIError:
            self = error
        case DecodingError.keyNotFound(let key, let context):
            let name = path(context.codingPath + [key]) ?? key.stringValue
            self = .invalidRequest("Missing required parameter: '\(name)'.", param: name, code: "missing_required_parameter")
        case DecodingError.typeMismatch(let type, let context), DecodingError.valueNotFound(let type, let context):
            let name = path(context.codingPath)
            self = .invalidRequest("Invalid type for '\(name ?? "body")': expected \(Self.describe(type)).", param: name,
                                   code: "invalid_type")
        case DecodingError.dataCorrupted(let context) where context.codingPath.count > depth:
            let name = path(context.codingPath)
            self = .invalidRequest("Invalid value for '\(name ?? "body")': \(context.debugDescription)", param: name, code: "invalid_value")
        default:
            self = .invalidRequest("We could not parse the JSON body of your request. The body must be a JSON object.",
                                   code: "invalid_json")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "an array"
        default: "a value of another type (\(type))"
        }
    }

    /// `{"error":{...}}`, with explicit nulls as OpenAI sends them.
    public var body: Data {
        struct Envelope: Encodable {
            struct Inner: Encodable {
                let message: String, type: String, param: String?, code: String?
                func encode(to encoder: Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(message, forKey: .message)
                    try c.encode(type, forKey: .type)
                    try c.encode(param, forKey: .param)
                    try c.encode(code, forKey: .code)
                }
                enum CodingKeys: String, CodingKey { case message, type, param, code }
            }
            let error: Inner
        }
        return (try? JSONEncoder().encode(Envelope(error: .init(message: message, type: type, param: param, code: code)))) ?? Data()
    }
}
