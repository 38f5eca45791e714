import CMicroHTTPD
import Foundation

/// Limits the HTTP layer enforces before any route runs.
public struct HTTPLimits: Sendable {
    public var maxBodyBytes = 8 << 20
    /// Routes that take file uploads, and their larger limit.
    public var uploadPaths: Set<String> = ["/v1/files"]
    public var maxUploadBytes = 512 << 20
    /// Connections open at once (`--max-connections`); and from one client address (`--max-connections-per-address`).
    /// Requests past either get a 503 (`/health` excepted); past `refusalLane` more, connections are closed at accept.
    public var maxConnections = 512
    public var maxConnectionsPerAddress = 256
    public var refusalLane = 32
    /// Seconds a new connection has to send its request's headers (`--header-timeout`), and then its body
    /// (`--body-timeout`); bytes arriving do not extend them.
    public var headerTimeoutSeconds = 10.0
    public var bodyTimeoutSeconds = 120.0
    /// Bytes of request line and headers at most (`--max-header-bytes`); past it the reply is a 431.
    public var maxHeaderBytes = 32 << 10
    /// Seconds a connection may sit idle (no bytes either way; between kept-alive requests) before it is closed.
    public var idleTimeoutSeconds: UInt32 = 60

    public init() {}

    func bodyLimit(path: String) -> Int { uploadPaths.contains(path) ? maxUploadBytes : maxBodyBytes }
}

/// libmicrohttpd, one thread per connection: it does the protocol
/// (keep-alive, chunked encoding, timeouts, the connection limit), and hands
/// each complete request to `handler`, which may block while the engine works.
public final class HTTPServer: @unchecked Sendable {  // immutable after start; the daemon calls in from its threads
    public let limits: HTTPLimits
    let handler: @Sendable (HTTPRequest) -> HTTPResponse
    let connections: ConnectionGuard
    private var daemon: OpaquePointer?
    public private(set) var port: UInt16 = 0

    public init(limits: HTTPLimits, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        self.limits = limits
        self.handler = handler
        connections = ConnectionGuard(limits: limits)
    }

    /// Binds `host:port` (port 0 picks a free one) and starts serving.
    public func start(host: String, port: UInt16) throws {
        let me = Unmanaged.passUnretained(self).toOpaque()
        guard let d = wafer_mhd_start(host, port, UInt32(clamping: limits.maxConnections + limits.refusalLane),
                                      UInt32(clamping: limits.maxConnectionsPerAddress + limits.refusalLane), limits.idleTimeoutSeconds,
                                      limits.maxHeaderBytes,
                                      accessHandler, me, requestCompleted, me, notifyConnection, me) else {
            throw ServerError("cannot listen on \(host):\(port) (address in use, or not an IPv4 address)")
        }
        daemon = d
        self.port = wafer_mhd_port(d)
    }

    /// Stops accepting new connections; those open carry on.
    public func stopAccepting() {
        if let daemon { _ = MHD_quiesce_daemon(daemon) }
    }

    /// Closes every connection and stops the daemon's threads.
    public func stop() {
        if let daemon { MHD_stop_daemon(daemon) }
        daemon = nil
        connections.stop()
    }
}

public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What the daemon keeps for one request between its calls to the access handler.
final class UploadState {
    var body = Data()
    var limit = 0
    var tooLarge = false
}

private let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadSize, context in
    let server = Unmanaged<HTTPServer>.fromOpaque(cls!).takeUnretainedValue()
    guard let connection, let uploadSize, let context else { return .NO }
    // First call: headers only. Refuse a declared oversized body before reading it.
    guard let existing = context.pointee else {
        let request = UploadState()
        context.pointee = Unmanaged.passRetained(request).toOpaque()
        server.connections.headersReceived(connection)
        request.limit = server.limits.bodyLimit(path: url.map { String(cString: $0) } ?? "/")
        if let length = header(connection, "content-length").flatMap(Int.init), length > request.limit {
            request.tooLarge = true
        }
        return .YES
    }
    let request = Unmanaged<UploadState>.fromOpaque(existing).takeUnretainedValue()
    if uploadSize.pointee > 0 {
        if !request.tooLarge, let uploadData {
            if request.body.count + uploadSize.pointee > request.limit {
                request.tooLarge = true
                request.body = Data()
            } else {
                request.body.append(UnsafeRawPointer(uploadData).assumingMemoryBound(to: UInt8.self), count: uploadSize.pointee)
            }
        }
        uploadSize.pointee = 0
        return .YES
    }
    server.connections.bodyReceived(connection)
    let path = url.map { String(cString: $0) } ?? "/"
    if path != "/health", let reason = server.connections.overLimit(connection) {
        var refusal = APIServer.errorResponse(.unavailable(reason))
        refusal.headers.append(("Connection", "close"))
        return queue(refusal, on: connection)
    }
    var http = HTTPRequest(method: method.map { String(cString: $0) } ?? "GET", path: url.map { String(cString: $0) } ?? "/",
                           headers: values(connection, .HEADER_KIND, lowercased: true),
                           query: values(connection, .GET_ARGUMENT_KIND, lowercased: false),
                           body: request.body, peer: PeerWatch(fd: wafer_mhd_connection_fd(connection)))
    http.bodyTooLarge = request.tooLarge
    request.body = Data()
    return queue(server.handler(http), on: connection)
}

private let requestCompleted: MHD_RequestCompletedCallback = { cls, connection, context, _ in
    if let connection { Unmanaged<HTTPServer>.fromOpaque(cls!).takeUnretainedValue().connections.responded(connection) }
    guard let context, let pointer = context.pointee else { return }
    Unmanaged<UploadState>.fromOpaque(pointer).release()
    context.pointee = nil
}

private let notifyConnection: MHD_NotifyConnectionCallback = { cls, connection, _, code in
    guard let connection else { return }
    let connections = Unmanaged<HTTPServer>.fromOpaque(cls!).takeUnretainedValue().connections
    switch code.rawValue {  // MHD_CONNECTION_NOTIFY_STARTED, _CLOSED
    case 0:
        var address = [CChar](repeating: 0, count: 64)
        wafer_mhd_client_address(connection, &address, address.count)
        let text = String(decoding: address.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        connections.opened(connection, fd: wafer_mhd_connection_fd(connection), address: text)
    case 1:
        connections.closed(connection)
    default:
        break
    }
}

private func header(_ connection: OpaquePointer, _ name: String) -> String? {
    MHD_lookup_connection_value(connection, .HEADER_KIND, name).map { String(cString: $0) }
}

/// Every value of one kind (headers, query arguments) of a connection.
private func values(_ connection: OpaquePointer, _ kind: MHD_ValueKind, lowercased: Bool) -> [String: String] {
    final class Box { var values: [String: String] = [:]; var lowercased = false }
    let box = Box()
    box.lowercased = lowercased
    _ = MHD_get_connection_values(connection, kind, { cls, _, key, value in
        let box = Unmanaged<Box>.fromOpaque(cls!).takeUnretainedValue()
        if let key {
            let name = String(cString: key)
            box.values[box.lowercased ? name.lowercased() : name] = value.map { String(cString: $0) } ?? ""
        }
        return .YES
    }, Unmanaged.passUnretained(box).toOpaque())
    return box.values
}

private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    let mhd: OpaquePointer?
    switch response.body {
    case .data(let data):
        mhd = data.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
        }
    case .stream(let stream):
        let reader = StreamReader(stream)
        mhd = MHD_create_response_from_callback(UInt64.max, 16 * 1024, { cls, _, buffer, max in
            Unmanaged<StreamReader>.fromOpaque(cls!).takeUnretainedValue().read(into: buffer!, max: max)
        }, Unmanaged.passRetained(reader).toOpaque(), { cls in
            let reader = Unmanaged<StreamReader>.fromOpaque(cls!).takeRetainedValue()
            reader.stream.close()
        })
    }
    guard let mhd else { return MHD_Result.NO }
    for (name, value) in response.headers { MHD_add_response_header(mhd, name, value) }
    let result = MHD_queue_response(connection, UInt32(response.status), mhd)
    MHD_destroy_response(mhd)
    return result
}

/// Feeds a `ResponseStream` to the library's content-reader callback.
final class StreamReader {
    let stream: any ResponseStream
    private var pending = Data()
    private var offset = 0

    init(_ stream: any ResponseStream) { self.stream = stream }

    /// Bytes copied, or -1 at the end of the stream (MHD_CONTENT_READER_END_OF_STREAM).
    func read(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        while offset == pending.count {
            guard let next = stream.next() else { return -1 }
            pending = next
            offset = 0
        }
        let count = min(max, pending.count - offset)
        pending.withUnsafeBytes { bytes in
            UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}
