import Foundation
import Metering
import OpenAI
import Server

/// The OpenAI Files and Batches API on `wafer serve`: uploads are kept in
/// the data directory, each batch runs in the background through the same
/// `BatchRunner` as `wafer batch` (behind interactive requests in the
/// engine), and batches still running when the server stopped resume when it
/// starts again.
public final class BatchAPI: RouteExtension, @unchecked Sendable {  // `batches` and `runners` under `lock`
    let api: APIServer
    let files: URL
    let batchDirectory: URL
    let workers: Int
    private let lock = NSLock()
    private var runners: [String: BatchRunner] = [:]

    public init(api: APIServer, dataDirectory: String, workers: Int) throws {
        self.api = api
        files = URL(fileURLWithPath: dataDirectory).appendingPathComponent("files")
        batchDirectory = URL(fileURLWithPath: dataDirectory).appendingPathComponent("batches")
        self.workers = max(1, workers)
        for dir in [files, batchDirectory] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    }

    /// Restarts the batches that were running when the server last stopped (call once the model is ready).
    public func resumeUnfinished() {
        for batch in allBatches() where batch.isActive {
            if batch.status == "cancelling" {
                var b = batch
                finish(&b, status: "cancelled")
            } else {
                start(batch)
            }
        }
    }

    public func respond(to request: HTTPRequest, path: String, caller: Caller) throws(APIError) -> HTTPResponse? {
        let parts = path.split(separator: "/").map(String.init)  // ["v1", "files", id, "content"]
        guard parts.count >= 2, ["files", "batches"].contains(parts[1]) else { return nil }
        func method(_ allowed: String) throws(APIError) {
            guard request.method == allowed else { throw .methodNotAllowed(request.method, path: path, allowed: [allowed]) }
        }
        switch (parts[1], parts.count) {
        case ("files", 2):
            if request.method == "GET" { return listFiles() }
            try method("POST")
            return try upload(request)
        case ("files", 3):
            if request.method == "DELETE" { return try delete(file: parts[2]) }
            try method("GET")
            return .json(WireJSON.encode(try file(parts[2])))
        case ("files", 4) where parts[3] == "content":
            try method("GET")
            let object = try file(parts[2])
            guard let data = try? Data(contentsOf: files.appendingPathComponent(object.id)) else { throw .server("The file's content is missing.") }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: .data(data))
        case ("batches", 2):
            if request.method == "GET" {
                let data = allBatches().sorted { $0.createdAt > $1.createdAt }.map(current)
                return .json(WireJSON.encode(ListOf(data: data)))
            }
            try method("POST")
            return try create(request)
        case ("batches", 3):
            try method("GET")
            return .json(WireJSON.encode(current(try batch(parts[2]))))
        case ("batches", 4) where parts[3] == "cancel":
            try method("POST")
            return .json(WireJSON.encode(try cancel(parts[2])))
        default:
            throw .notFound("Unknown route \(request.method) \(path).", code: "unknown_route")
        }
    }

    struct ListOf<T: Encodable>: Encodable {
        var object = "list"
        var data: [T]
        var hasMore = false
    }

    // MARK: Files

    private func upload(_ request: HTTPRequest) throws(APIError) -> HTTPResponse {
        guard let form = Multipart(body: request.body, contentType: request.headers["content-type"] ?? "") else {
            throw .invalidRequest("Upload the file as multipart/form-data with fields 'purpose' and 'file'.", code: "invalid_value")
        }
        guard let purpose = form.part("purpose").map({ String(decoding: $0.content, as: UTF8.self) }), purpose == "batch" else {
            throw .invalidRequest("purpose must be 'batch'.", param: "purpose", code: "invalid_value")
        }
        guard let content = form.part("file") else { throw .invalidRequest("Missing required parameter: 'file'.", param: "file") }
        let object = try store(content.content, filename: content.filename ?? "upload.jsonl", purpose: purpose)
        return .json(WireJSON.encode(object))
    }

    private func store(_ data: Data, filename: String, purpose: String) throws(APIError) -> FileObject {
        let object = FileObject(id: "file-" + APIServer.makeID(), bytes: data.count, createdAt: Wire.now, filename: filename, purpose: purpose)
        do {
            try data.write(to: files.appendingPathComponent(object.id), options: .atomic)
            try WireJSON.encode(object).write(to: files.appendingPathComponent(object.id + ".json"), options: .atomic)
        } catch { throw .server("The file could not be stored: \(error)") }
        return object
    }

    private func file(_ id: String) throws(APIError) -> FileObject {
        guard Self.isID(id), let data = try? Data(contentsOf: files.appendingPathComponent(id + ".json")),
              let object = Wire.decode(FileObject.self, data) else {
            throw .notFound("No such file: '\(id)'.", param: "file_id", code: "file_not_found")
        }
        return object
    }

    private func listFiles() -> HTTPResponse {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: files.path)) ?? []
        let objects = names.filter { $0.hasSuffix(".json") }.compactMap { name in
            (try? Data(contentsOf: files.appendingPathComponent(name))).flatMap { Wire.decode(FileObject.self, $0) }
        }.sorted { $0.createdAt > $1.createdAt }
        return .json(WireJSON.encode(ListOf(data: objects)))
    }

    private func delete(file id: String) throws(APIError) -> HTTPResponse {
        let object = try file(id)
        try? FileManager.default.removeItem(at: files.appendingPathComponent(object.id))
        try? FileManager.default.removeItem(at: files.appendingPathComponent(object.id + ".json"))
        struct Deleted: Encodable { let id: String; var object = "file"; var deleted = true }
        return .json(WireJSON.encode(Deleted(id: object.id)))
    }

    /// Ids are ours ("file-…", "batch_…"): letters, digits, '-' and '_' only, so never a path.
    static func isID(_ id: String) -> Bool {
        !id.isEmpty && id.count < 100 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    // MARK: Batches

    private func create(_ request: HTTPRequest) throws(APIError) -> HTTPResponse {
        struct Create: Decodable {
            let input_file_id: String
            let endpoint: String
            let completion_window: String
            let metadata: [String: String]?
        }
        let body = try JSONDecoder.request(Create.self, from: request.body)
        guard BatchLine.urls.contains(body.endpoint) else {
            throw .invalidRequest("endpoint must be /v1/chat/completions or /v1/completions.", param: "endpoint", code: "invalid_value")
        }
        guard body.completion_window == "24h" else {
            throw .invalidRequest("completion_window must be '24h'.", param: "completion_window", code: "invalid_value")
        }
        let input = try file(body.input_file_id)
        guard input.purpose == "batch" else { throw .invalidRequest("The input file's purpose is not 'batch'.", param: "input_file_id") }
        let now = Wire.now
        let batch = BatchObject(id: "batch_" + APIServer.makeID(), endpoint: body.endpoint, inputFileId: input.id,
                                completionWindow: "24h", status: "validating", createdAt: now, expiresAt: now + 86_400,
                                metadata: body.metadata)
        save(batch)
        start(batch)
        return .json(WireJSON.encode(current(batch)))
    }

    private func batch(_ id: String) throws(APIError) -> BatchObject {
        guard Self.isID(id), let data = try? Data(contentsOf: batchDirectory.appendingPathComponent(id + ".json")),
              let object = Wire.decode(BatchObject.self, data) else {
            throw .notFound("No such batch: '\(id)'.", param: "batch_id", code: "batch_not_found")
        }
        return object
    }

    private func allBatches() -> [BatchObject] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: batchDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            (try? Data(contentsOf: batchDirectory.appendingPathComponent(name))).flatMap { Wire.decode(BatchObject.self, $0) }
        }
    }

    private func save(_ batch: BatchObject) {
        try? WireJSON.encode(batch).write(to: batchDirectory.appendingPathComponent(batch.id + ".json"), options: .atomic)
    }

    /// The stored object with live request counts while it runs.
    private func current(_ batch: BatchObject) -> BatchObject {
        guard let runner = lock.withLock({ runners[batch.id] }) else { return batch }
        var b = batch
        b.requestCounts = Self.counts(runner.progress)
        return b
    }

    static func counts(_ s: BatchRunner.Summary) -> BatchObject.Counts {
        BatchObject.Counts(total: s.total, completed: s.succeeded + s.skipped, failed: s.failed + s.invalid)
    }

    private func paths(_ id: String) -> (output: String, errors: String) {
        (batchDirectory.appendingPathComponent(id + ".output.jsonl").path, batchDirectory.appendingPathComponent(id + ".errors.jsonl").path)
    }

    /// Runs (or resumes) a batch on its own thread.
    private func start(_ batch: BatchObject) {
        var b = batch
        let id = batch.id
        let (output, errors) = paths(id)
        let runner: BatchRunner
        do {
            runner = try BatchRunner(api: api, input: files.appendingPathComponent(b.inputFileId).path, output: output, errors: errors,
                                     workers: workers, batchID: b.id,
                                     deadline: b.expiresAt.map { Date(timeIntervalSince1970: Double($0)) })
        } catch {
            b.errors = .init(data: [.init(code: "invalid_input_file", message: "\(error)")])
            finish(&b, status: "failed")
            return
        }
        b.status = "in_progress"
        b.inProgressAt = b.inProgressAt ?? Wire.now
        save(b)
        lock.withLock { runners[id] = runner }
        let started = b
        Thread.detachNewThread { [self] in
            let summary = runner.run()
            defer { lock.withLock { runners[id] = nil } }
            guard !summary.interrupted else { return }  // the server is stopping: stays in_progress, resumed on restart
            var done = (try? self.batch(id)) ?? started
            done.requestCounts = Self.counts(summary)
            finish(&done, status: done.status == "cancelling" ? "cancelled" : summary.expired ? "expired" : "completed")
        }
    }

    /// Finalizing: the output and error files become file objects; then the final status.
    private func finish(_ b: inout BatchObject, status: String) {
        b.finalizingAt = Wire.now
        let (output, errors) = paths(b.id)
        if let data = try? Data(contentsOf: URL(fileURLWithPath: output)), !data.isEmpty {
            b.outputFileId = try? store(data, filename: "\(b.id)_output.jsonl", purpose: "batch_output").id
        }
        if let data = try? Data(contentsOf: URL(fileURLWithPath: errors)), !data.isEmpty {
            b.errorFileId = try? store(data, filename: "\(b.id)_error.jsonl", purpose: "batch_output").id
        }
        b.status = status
        switch status {
        case "completed": b.completedAt = Wire.now
        case "cancelled": b.cancelledAt = Wire.now
        case "expired": b.expiredAt = Wire.now
        default: b.failedAt = Wire.now
        }
        save(b)
    }

    private func cancel(_ id: String) throws(APIError) -> BatchObject {
        var b = try batch(id)
        guard ["validating", "in_progress"].contains(b.status) else {
            throw .invalidRequest("A batch that is \(b.status) cannot be cancelled.", param: "batch_id", code: "invalid_state")
        }
        b.status = "cancelling"
        b.cancellingAt = Wire.now
        save(b)
        lock.withLock { runners[id] }?.cancel()
        return current(b)
    }
}
