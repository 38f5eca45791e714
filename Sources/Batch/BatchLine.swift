import Foundation
import OpenAI

/// One input line of the OpenAI Batch API format:
/// `{"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}`.
struct BatchLine {
    let customID: String
    let url: String
    let body: Data
    /// `"stream": true` is refused as the Batch API refuses it.
    let streams: Bool

    static let urls: Set<String> = ["/v1/chat/completions", "/v1/completions"]

    /// A line that is not a request at all; it goes to the error file.
    struct Problem: Error {
        let code: String
        let message: String
        let customID: String?
    }

    static func parse(_ bytes: Data) throws(Problem) -> BatchLine {
        guard let object = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] else {
            throw Problem(code: "invalid_json", message: "The line is not a JSON object.", customID: nil)
        }
        guard let customID = object["custom_id"] as? String, !customID.isEmpty else {
            throw Problem(code: "missing_custom_id", message: "The line has no custom_id string.", customID: nil)
        }
        if let key = DuplicateKeys.first(in: bytes) {
            throw Problem(code: "duplicate_key", message: "The key '\(key)' appears twice in one object.", customID: customID)
        }
        let method = object["method"] as? String ?? "POST"
        guard method == "POST" else {
            throw Problem(code: "invalid_method", message: "method must be POST, got '\(method)'.", customID: customID)
        }
        guard let url = object["url"] as? String, urls.contains(url) else {
            throw Problem(code: "invalid_url", message: "url must be /v1/chat/completions or /v1/completions.", customID: customID)
        }
        guard let body = object["body"] as? [String: Any], let data = try? JSONSerialization.data(withJSONObject: body) else {
            throw Problem(code: "missing_body", message: "The line has no body object.", customID: customID)
        }
        return BatchLine(customID: customID, url: url, body: data, streams: body["stream"] as? Bool == true)
    }
}

/// A JSON string literal for `text`.
func jsonString(_ text: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .withoutEscapingSlashes
    return String(decoding: (try? encoder.encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
}
