import Foundation
import Metering
import OpenAI

/// A route of the API served by another target (the Files and Batches API),
/// free of HTTP: the server puts it in its route table behind the same auth,
/// request ids, metrics and error envelope as its own routes.
public struct APIRoute: Sendable {
    public let method: String
    /// The path with `{…}` for each parameter, e.g. `/v1/files/{id}/content`; also the metrics label.
    public let path: String
    public let handle: @Sendable (APIRouteRequest) throws(APIError) -> APIRouteResponse

    public init(_ method: String, _ path: String, _ handle: @escaping @Sendable (APIRouteRequest) throws(APIError) -> APIRouteResponse) {
        self.method = method
        self.path = path
        self.handle = handle
    }
}

public struct APIRouteRequest: Sendable {
    /// The values of the path's `{…}` parameters, in order.
    public let parameters: [String]
    public let query: [String: String]
    public let body: Data
    public let contentType: String
    public let caller: Caller

    public init(parameters: [String], query: [String: String], body: Data, contentType: String, caller: Caller) {
        self.parameters = parameters
        self.query = query
        self.body = body
        self.contentType = contentType
        self.caller = caller
    }
}

public enum APIRouteResponse: Sendable {
    case json(Data)
    case bytes(Data, contentType: String)

    public static func encoded<T: Encodable>(_ value: T) -> APIRouteResponse { .json(WireJSON.encode(value)) }
}
