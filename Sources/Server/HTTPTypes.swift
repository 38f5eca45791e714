import Foundation

/// A request as the routes see it: the library has parsed the protocol, the body is whole.
public struct HTTPRequest: Sendable {
    public var method: String
    public var path: String
    /// Header names lower-cased.
    public var headers: [String: String]
    public var query: [String: String]
    public var body: Data
    /// The body went past `HTTPLimits.maxBodyBytes` and was dropped; the handler answers 413.
    public var bodyTooLarge = false
    /// Lets a handler that waits (on the engine) notice the client hanging up.
    public var peer: PeerWatch

    public init(method: String, path: String, headers: [String: String] = [:], query: [String: String] = [:],
                body: Data = Data(), peer: PeerWatch = PeerWatch(fd: -1)) {
        self.method = method
        self.path = path
        self.headers = headers
        self.query = query
        self.body = body
        self.peer = peer
    }
}

/// A response: a whole body, or a stream the connection's thread pulls from.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public enum Body: Sendable {
        case data(Data)
        case stream(any ResponseStream)
    }

    public init(status: Int, headers: [(String, String)] = [], body: Body) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ data: Data, status: Int = 200, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: .data(data))
    }

    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: .data(Data(text.utf8)))
    }
}

/// A streamed body (server-sent events). `next` blocks until more bytes are
/// ready and returns nil at the end; `close` is called once when the
/// connection is done with it, whether the stream ended or the client left.
public protocol ResponseStream: AnyObject, Sendable {
    func next() -> Data?
    func close()
}

/// Watches a connection's socket for the client hanging up while nothing is
/// being written to it (HTTP gives no other signal until the next write).
public struct PeerWatch: Sendable {
    let fd: Int32

    public init(fd: Int32) { self.fd = fd }

    public var hasHungUp: Bool {
        guard fd >= 0 else { return false }
        let readHangUp: Int16 = 0x2000  // POLLRDHUP: Linux, hidden from Swift behind _GNU_SOURCE
        var p = pollfd(fd: fd, events: readHangUp, revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        return p.revents & (readHangUp | Int16(POLLHUP | POLLERR | POLLNVAL)) != 0
    }
}
