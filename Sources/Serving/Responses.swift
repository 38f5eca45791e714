import Foundation
import Metering
import OpenAI

/// A whole response body of a generation route.
public enum ResponseBody: Encodable, Sendable {
    case chat(ChatCompletion)
    case text(TextCompletion)
    /// `/v1/responses`.
    case response(ResponseObject)

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .chat(let body): try body.encode(to: encoder)
        case .text(let body): try body.encode(to: encoder)
        case .response(let body): try body.encode(to: encoder)
        }
    }
}

/// A finished, metered response: its body (encoded once, here) and what it was billed.
public struct CompletedResponse: Sendable {
    public let body: ResponseBody
    public let json: Data
    public let charge: Charge?
}

/// One event of a streamed response, in order: chunks, then `done` or `failed`.
public enum StreamEvent: Sendable {
    case chat(ChatCompletionChunk)
    case text(TextCompletion)
    /// The stream ends early (the server stopped it, the model or the ledger failed): no `[DONE]` follows.
    case failed(APIError)
    /// An event with its own SSE name (`event:` line), as the Responses API sends them.
    case named(String, Data)
    case done
}

/// A streamed response's events, pulled by the door that frames them.
public protocol GenerationStream: AnyObject, Sendable {
    /// The next events, waiting for them; nil once the stream has ended.
    func next() -> [StreamEvent]?
    /// The client left before the end: stop, and bill what was delivered.
    func close()
}

/// What a generation request gets: the whole response, or a stream of events.
public enum Generation: Sendable {
    case completed(CompletedResponse)
    case streaming(any GenerationStream)
}
