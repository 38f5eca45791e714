import CCurl
import Foundation

/// Why an upstream call failed. `beforeFirstByte`: nothing was delivered, so
/// the request may still be served elsewhere.
public struct UpstreamError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Could not connect (refused, unreachable, DNS).
        case unreachable
        /// No byte within the first-byte timeout, or the connection stalled.
        case timeout
        /// An HTTP status other than 200 (429 and 5xx among them).
        case status
        /// A body that is not the OpenAI stream format.
        case malformed
        /// The stream ended before `[DONE]`.
        case truncated
        case other
    }

    public let kind: Kind
    public let status: Int?
    public let message: String
    public let beforeFirstByte: Bool

    public init(kind: Kind, status: Int?, message: String, beforeFirstByte: Bool) {
        self.kind = kind
        self.status = status
        self.message = message
        self.beforeFirstByte = beforeFirstByte
    }

    public var description: String { "upstream \(kind.rawValue)\(status.map { " \($0)" } ?? ""): \(message)" }
}

/// An OpenAI-compatible client on libcurl: POSTs a JSON body and hands back
/// the server-sent events of the streamed answer as they arrive. Easy handles
/// are kept in a pool, so connections to the upstream are reused.
public final class UpstreamClient: @unchecked Sendable {  // `idle` under `lock`
    /// The base URL, e.g. `http://host:port/v1`.
    public let baseURL: String
    private let apiKey: String?
    private let connectTimeout: Double
    private let firstByteTimeout: Double
    private let lock = NSLock()
    private var idle: [OpaquePointer] = []

    public init(baseURL: String, apiKey: String?, connectTimeout: Double = 2, firstByteTimeout: Double = 30) {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.connectTimeout = connectTimeout
        self.firstByteTimeout = firstByteTimeout
    }

    deinit { for handle in idle { curl_easy_cleanup(UnsafeMutableRawPointer(handle)) } }

    /// POSTs `body` to `path` and calls `onEvent` with each `data:` payload of
    /// the event stream until `[DONE]` (return false to stop early). Throws if
    /// the call fails, before or after the first event.
    public func stream(_ path: String, body: Data, onEvent: (Data) -> Bool) throws(UpstreamError) {
        try withoutActuallyEscaping(onEvent) { (onEvent) throws(UpstreamError) in try perform(path, body: body, onEvent: onEvent) }
    }

    private func perform(_ path: String, body: Data, onEvent: @escaping (Data) -> Bool) throws(UpstreamError) {
        let handle = take()
        defer { give(handle) }
        let transfer = Transfer(firstByteTimeout: firstByteTimeout, onEvent: onEvent)
        let code: CURLcode = withExtendedLifetime(transfer) {
            (baseURL + path).withCString { url in
                body.withUnsafeBytes { bytes in
                    let h = UnsafeMutableRawPointer(handle)
                    wafer_curl_set_string(h, CURLOPT_URL, url)
                    wafer_curl_set_long(h, CURLOPT_POST, 1)
                    wafer_curl_set_pointer(h, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                    wafer_curl_set_long(h, CURLOPT_POSTFIELDSIZE, bytes.count)
                    var headers: UnsafeMutablePointer<curl_slist>? = nil
                    for header in ["Content-Type: application/json", "Accept: text/event-stream"]
                        + (apiKey.map { ["Authorization: Bearer \($0)"] } ?? []) {
                        headers = curl_slist_append(headers, header)
                    }
                    defer { curl_slist_free_all(headers) }
                    wafer_curl_set_headers(h, headers)
                    let context = Unmanaged.passUnretained(transfer).toOpaque()
                    wafer_curl_set_write(h, { data, size, count, context in
                        let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                        return transfer.receive(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
                    }, context)
                    wafer_curl_set_progress(h, { context, _, _, _, _ in
                        Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().isOverdue ? 1 : 0
                    }, context)
                    transfer.statusOf = { wafer_curl_status(h) }
                    return curl_easy_perform(h)
                }
            }
        }
        if let error = transfer.failure { throw error }
        guard code == CURLE_OK else { throw transfer.error(for: code) }
        guard transfer.status == 200 else {
            throw UpstreamError(kind: .status, status: transfer.status, message: String(decoding: transfer.errorBody.prefix(300), as: UTF8.self),
                                beforeFirstByte: true)
        }
        guard transfer.sawDone || transfer.stopped else {
            throw UpstreamError(kind: .truncated, status: nil, message: "the stream ended before [DONE]",
                                beforeFirstByte: transfer.events == 0)
        }
    }

    private func take() -> OpaquePointer {
        if let handle = lock.withLock({ idle.popLast() }) { return handle }
        let handle = OpaquePointer(curl_easy_init()!)
        let h = UnsafeMutableRawPointer(handle)
        wafer_curl_set_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        wafer_curl_set_long(h, CURLOPT_NOSIGNAL, 1)
        wafer_curl_set_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        // A stream that stalls mid-way (under 1 byte/s for the first-byte timeout) is cut.
        wafer_curl_set_long(h, CURLOPT_LOW_SPEED_LIMIT, 1)
        wafer_curl_set_long(h, CURLOPT_LOW_SPEED_TIME, max(1, Int(firstByteTimeout)))
        return handle
    }

    private func give(_ handle: OpaquePointer) {
        curl_easy_reset_keeping_connection(handle)
        lock.withLock { idle.append(handle) }
    }

    /// Options set per request are cleared; the handle's connection cache stays.
    private func curl_easy_reset_keeping_connection(_ handle: OpaquePointer) {
        let h = UnsafeMutableRawPointer(handle)
        wafer_curl_set_headers(h, nil)
        wafer_curl_set_pointer(h, CURLOPT_POSTFIELDS, nil)
    }
}

/// One call's state, shared with libcurl's callbacks on the calling thread.
private final class Transfer {
    let firstByteTimeout: Double
    let onEvent: (Data) -> Bool
    let started = DispatchTime.now().uptimeNanoseconds
    var statusOf: () -> Int = { 0 }
    var status = 0
    var gotByte = false
    var events = 0
    var sawDone = false
    var stopped = false
    var failure: UpstreamError?
    var errorBody = Data()
    private var pending = Data()

    init(firstByteTimeout: Double, onEvent: @escaping (Data) -> Bool) {
        self.firstByteTimeout = firstByteTimeout
        self.onEvent = onEvent
    }

    var isOverdue: Bool {
        !gotByte && Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 > firstByteTimeout
    }

    /// Body bytes: kept whole for an error status, else split into events. False aborts the transfer.
    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        gotByte = true
        if status == 0 { status = statusOf() }
        guard status == 200 else {
            if errorBody.count < 4096 { errorBody.append(contentsOf: bytes) }
            return true
        }
        pending.append(contentsOf: bytes)
        // Events are separated by a blank line; each of ours is one `data:` line.
        while let end = pending.firstRange(of: Data("\n".utf8)) {
            let line = pending[pending.startIndex..<end.lowerBound]
            pending.removeSubrange(pending.startIndex..<end.upperBound)
            let text = line.last == 0x0D ? line.dropLast() : line
            guard text.starts(with: Data("data:".utf8)) else { continue }  // blank lines, comments, `event:`
            var payload = text.dropFirst(5)
            if payload.first == 0x20 { payload = payload.dropFirst() }
            if payload.elementsEqual(Data("[DONE]".utf8)) {
                sawDone = true
                return true
            }
            events += 1
            guard onEvent(Data(payload)) else {
                stopped = true
                return false
            }
        }
        return true
    }

    func error(for code: CURLcode) -> UpstreamError {
        let message = String(cString: curl_easy_strerror(code))
        switch code {
        case _ where stopped:
            return UpstreamError(kind: .other, status: nil, message: "stopped by the caller", beforeFirstByte: events == 0)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return UpstreamError(kind: .unreachable, status: nil, message: message, beforeFirstByte: true)
        case CURLE_OPERATION_TIMEDOUT, CURLE_ABORTED_BY_CALLBACK:
            return UpstreamError(kind: .timeout, status: nil, message: gotByte ? "the stream stalled" : "no first byte in time",
                                 beforeFirstByte: events == 0)
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_GOT_NOTHING:
            return UpstreamError(kind: .truncated, status: nil, message: message, beforeFirstByte: events == 0)
        default:
            return UpstreamError(kind: .other, status: nil, message: message, beforeFirstByte: events == 0)
        }
    }
}
