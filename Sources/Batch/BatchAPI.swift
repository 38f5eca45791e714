import Foundation
import Metering
import OpenAI
import Serving

/// The OpenAI Files and Batches API on `wafer serve`: uploads and batch state
/// are kept in the data directory, or with a PostgreSQL ledger in its database
/// (so replicas share them). Each batch runs in the background through the
/// same `BatchRunner` as `wafer batch` (behind interactive requests in the
/// engine), on the one replica that claimed it; batches still running when
/// their server stopped or died resume on the next one to claim them.
public final class BatchAPI: @unchecked Sendable {  // `runners`, `here`, `lostClaims` and `stopping` under `lock`
    let service: Service
    let store: BatchStore
    /// This replica's runner files (output and errors, per batch).
    let batchDirectory: URL
    let workers: Int
    private let lock = NSLock()
    private var runners: [String: BatchRunner] = [:]
    /// Batches running here or being set up to: `create` and the adoption loop may both try to start
    /// one (the claim is already this replica's), and two runners would run its lines twice and write
    /// the same output file over each other.
    private var here: Set<String> = []
    /// Batches another replica took over while this one ran them (it was paused, or cut off from the database).
    private var lostClaims: Set<String> = []
    private var stopping = false
    /// Runner threads still going; shutdown waits for them to record how their run ended.
    private let running = DispatchGroup()
    /// Held while a batch's stored state is read, changed and written back by a cancellation or by
    /// the end of its run, so that neither overwrites the other (a batch left `cancelling` for good).
    private let transitions = NSLock()

    public init(service: Service, dataDirectory: String, workers: Int) throws {
        self.service = service
        if let ledger = service.meter?.ledger, let replicaID = ledger.replicaID {
            store = try PostgresBatchStore(url: ledger.location, replicaID: replicaID, dataDirectory: dataDirectory)
        } else {
            store = try DirectoryBatchStore(dataDirectory: dataDirectory)
        }
        batchDirectory = URL(fileURLWithPath: dataDirectory).appendingPathComponent("batches")
        try FileManager.default.createDirectory(at: batchDirectory, withIntermediateDirectories: true)
        self.workers = max(1, workers)
    }

    /// Starts the batches that are unfinished and unclaimed (call once the model is ready): those
    /// running when this server last stopped and, with shared state, those of replicas that died.
    /// With shared state it keeps looking every `interval` seconds, and passes on cancellations
    /// made on other replicas to the runners here.
    public func resumeUnfinished(every interval: Double? = nil) {
        adopt()
        guard let interval, store is PostgresBatchStore else { return }
        Thread.detachNewThread { [self] in
            while !lock.withLock({ stopping }) {
                Thread.sleep(forTimeInterval: interval)
                adopt()
            }
        }
    }

    private func adopt() {
        let local = lock.withLock { runners }
        for stored in store.allBatches() where stored.batch.isActive {
            if let runner = local[stored.batch.id] {
                if stored.batch.status == .cancelling { runner.cancel() }
                // Still ours? If another replica took it, stop at once and leave its state to that replica.
                if !store.claim(stored.batch.id) {
                    lock.withLock { _ = lostClaims.insert(stored.batch.id) }
                    runner.interrupt()
                }
                continue
            }
            guard reserve(stored.batch.id) else { continue }
            guard store.claim(stored.batch.id) else {
                unreserve(stored.batch.id)
                continue
            }
            // Read again under the claim: another replica may have finished it meanwhile.
            guard var current = store.batch(stored.batch.id), current.batch.isActive else {
                store.release(stored.batch.id)
                unreserve(stored.batch.id)
                continue
            }
            if current.batch.status == .cancelling {
                finish(&current, status: .cancelled)
                unreserve(stored.batch.id)
            } else {
                start(current)
            }
        }
    }

    /// Takes `id` for this replica unless it is running or starting here already (or the server is stopping).
    private func reserve(_ id: String) -> Bool { lock.withLock { !stopping && here.insert(id).inserted } }

    private func unreserve(_ id: String) { lock.withLock { _ = here.remove(id) } }

    /// The server is stopping: runners take no more lines, and lines cut short run again on restart.
    public func interruptRunners() {
        let all = lock.withLock { stopping = true; return Array(runners.values) }
        for runner in all { runner.interrupt() }
    }

    /// After the engine has stopped: lets the runners save how their run ended.
    public func waitForRunners(timeout: Double) { _ = running.wait(timeout: .now() + timeout) }

    /// The Files and Batches routes, for the server's route table.
    public var routes: [APIRoute] {
        [
            APIRoute("GET", "/v1/files") { [unowned self] r in .encoded(ListOf(data: listFiles(r.caller))) },
            APIRoute("POST", "/v1/files") { [unowned self] r throws(APIError) in .encoded(try upload(r)) },
            APIRoute("GET", "/v1/files/{id}") { [unowned self] r throws(APIError) in .encoded(try file(r.parameters[0], r.caller).file) },
            APIRoute("DELETE", "/v1/files/{id}") { [unowned self] r throws(APIError) in .encoded(try delete(file: r.parameters[0], r.caller)) },
            APIRoute("GET", "/v1/files/{id}/content") { [unowned self] r throws(APIError) in
                let object = try file(r.parameters[0], r.caller).file
                guard let data = store.content(object.id) else {
                    throw .server("The file's content is missing.")
                }
                return .bytes(data, contentType: "application/octet-stream")
            },
            APIRoute("GET", "/v1/batches") { [unowned self] r in
                .encoded(ListOf(data: store.allBatches().filter { r.caller.canSee($0.owner) }.map(\.batch)
                    .sorted { $0.createdAt > $1.createdAt }.map(current)))
            },
            APIRoute("POST", "/v1/batches") { [unowned self] r throws(APIError) in .encoded(try create(r)) },
            APIRoute("GET", "/v1/batches/{id}") { [unowned self] r throws(APIError) in
                .encoded(current(try batch(r.parameters[0], r.caller).batch))
            },
            APIRoute("POST", "/v1/batches/{id}/cancel") { [unowned self] r throws(APIError) in .encoded(try cancel(r.parameters[0], r.caller)) },
        ]
    }

    struct ListOf<T: Encodable>: Encodable {
        var object = "list"
        var data: [T]
        var hasMore = false
    }

    // MARK: Files

    private func upload(_ request: APIRouteRequest) throws(APIError) -> FileObject {
        guard let form = Multipart(body: request.body, contentType: request.contentType) else {
            throw .invalidRequest("Upload the file as multipart/form-data with fields 'purpose' and 'file'.", code: "invalid_value")
        }
        guard let purpose = form.part("purpose").map({ String(decoding: $0.content, as: UTF8.self) }), purpose == "batch" else {
            throw .invalidRequest("purpose must be 'batch'.", param: "purpose", code: "invalid_value")
        }
        guard let content = form.part("file") else { throw .invalidRequest("Missing required parameter: 'file'.", param: "file") }
        return try store(content.content, filename: content.filename ?? "upload.jsonl", purpose: purpose, owner: request.caller)
    }

    private func store(_ data: Data, filename: String, purpose: String, owner: Caller) throws(APIError) -> FileObject {
        let object = FileObject(id: "file-" + RequestContext.makeID(), bytes: data.count, createdAt: Wire.now, filename: filename, purpose: purpose)
        do { try store.save(StoredFile(file: object, owner: owner), content: data) } catch {
            // The error names our data directory or database; the client learns only that the write failed.
            FileHandle.standardError.write(Data("wafer: cannot store \(object.id): \(error)\n".utf8))
            throw .server("The file could not be stored (the server's disk or database may be full or unreachable).")
        }
        return object
    }

    /// The file `id` if `caller` may see it; otherwise the same 404 as for a file that does not exist.
    private func file(_ id: String, _ caller: Caller) throws(APIError) -> StoredFile {
        guard Self.isID(id), let stored = store.file(id), caller.canSee(stored.owner) else {
            throw .notFound("No such file: '\(id)'.", param: "file_id", code: "file_not_found")
        }
        return stored
    }

    private func listFiles(_ caller: Caller) -> [FileObject] {
        store.allFiles().filter { caller.canSee($0.owner) }.map(\.file).sorted { $0.createdAt > $1.createdAt }
    }

    struct Deleted: Encodable { let id: String; var object = "file"; var deleted = true }

    private func delete(file id: String, _ caller: Caller) throws(APIError) -> Deleted {
        let object = try file(id, caller).file
        store.delete(file: object.id)
        return Deleted(id: object.id)
    }

    /// Ids are ours ("file-…", "batch_…"): letters, digits, '-' and '_' only, so never a path.
    static func isID(_ id: String) -> Bool {
        !id.isEmpty && id.count < 100 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    // MARK: Batches

    private func create(_ request: APIRouteRequest) throws(APIError) -> BatchObject {
        let owner = request.caller
        struct Create: Decodable {
            let input_file_id: String
            let endpoint: String
            let completion_window: String
            let metadata: [String: String]?
        }
        let body = try JSONDecoder.request(Create.self, from: request.body)
        guard Endpoint(rawValue: body.endpoint) != nil else {
            throw .invalidRequest("endpoint must be /v1/chat/completions, /v1/completions or /v1/responses.", param: "endpoint", code: "invalid_value")
        }
        guard body.completion_window == "24h" else {
            throw .invalidRequest("completion_window must be '24h'.", param: "completion_window", code: "invalid_value")
        }
        let input = try file(body.input_file_id, owner).file
        guard input.purpose == "batch" else { throw .invalidRequest("The input file's purpose is not 'batch'.", param: "input_file_id") }
        let now = Wire.now
        let batch = BatchObject(id: "batch_" + RequestContext.makeID(), endpoint: body.endpoint, inputFileId: input.id,
                                completionWindow: "24h", status: .validating, createdAt: now, expiresAt: now + 86_400,
                                metadata: body.metadata)
        let stored = StoredBatch(batch: batch, owner: owner)
        save(stored)
        if reserve(batch.id) {
            if store.claim(batch.id) { start(stored) } else { unreserve(batch.id) }  // another replica adopts it
        }
        return current(batch)
    }

    /// The batch `id` if `caller` may see it; otherwise the same 404 as for a batch that does not exist.
    private func batch(_ id: String, _ caller: Caller) throws(APIError) -> StoredBatch {
        guard let stored = storedBatch(id), caller.canSee(stored.owner) else {
            throw .notFound("No such batch: '\(id)'.", param: "batch_id", code: "batch_not_found")
        }
        return stored
    }

    private func storedBatch(_ id: String) -> StoredBatch? { Self.isID(id) ? store.batch(id) : nil }

    private func save(_ stored: StoredBatch) { store.save(stored) }

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

    /// Runs (or resumes) a batch reserved and claimed here on its own thread, as its owner. A batch
    /// whose runs keep ending in a crash before another line is answered is
    /// failed with the reason instead of being resumed once more.
    private func start(_ stored: StoredBatch) {
        var s = stored
        let id = s.batch.id
        var launched = false
        defer { if !launched { unreserve(id) } }
        let (output, errors) = paths(id)
        let runner: BatchRunner
        do {
            guard let input = store.localPath(s.batch.inputFileId) else { throw BatchError("the input file's content is missing") }
            runner = try BatchRunner(service: service, input: input, output: output,
                                     errors: errors, workers: workers, batchID: id, caller: s.owner,
                                     deadline: s.batch.expiresAt.map { Date(timeIntervalSince1970: Double($0)) })
        } catch {
            s.batch.errors = .init(data: [.init(code: "invalid_input_file", message: "\(error)")])
            finish(&s, status: .failed)
            return
        }
        let answered = runner.answeredBefore
        s.stalledStarts = !s.runEnded && s.answeredAtStart == answered ? s.stalledStarts + 1 : 0
        guard s.stalledStarts < StoredBatch.maxStalledStarts else {
            s.batch.errors = .init(data: [.init(code: "resume_failed", message:
                "The server stopped \(s.stalledStarts) times in a row while running this batch, each time before another line "
                    + "was answered; it was not resumed again. Lines answered so far are in the output file.")])
            s.batch.requestCounts = Self.counts(runner.progress)
            finish(&s, status: .failed)
            return
        }
        s.answeredAtStart = answered
        s.runEnded = false
        s.batch.status = .inProgress
        s.batch.inProgressAt = s.batch.inProgressAt ?? Wire.now
        save(s)
        lock.withLock { runners[id] = runner }
        let started = s
        running.enter()
        launched = true
        Thread.detachNewThread { [self] in
            let summary = runner.run()
            defer {
                lock.withLock {
                    runners[id] = nil
                    here.remove(id)
                }
                store.release(id)
                running.leave()
            }
            // Taken over meanwhile (this replica was paused or cut off), or already finished by the replica
            // that took it: its state is not ours to write.
            guard lock.withLock({ lostClaims.remove(id) == nil }) else { return }
            transitions.lock()
            defer { transitions.unlock() }
            var done = storedBatch(id) ?? started
            guard !done.batch.status.isFinal else { return }
            done.runEnded = true
            guard !summary.interrupted else {  // the server is stopping: stays in_progress, resumed on restart
                save(done)
                return
            }
            done.batch.requestCounts = Self.counts(summary)
            finish(&done, status: done.batch.status == .cancelling ? .cancelled : summary.expired ? .expired : .completed)
        }
    }

    /// Finalizing: the output and error files become file objects of the batch's owner; then the final status.
    private func finish(_ s: inout StoredBatch, status: BatchStatus) {
        s.runEnded = true
        s.batch.finalizingAt = Wire.now
        let (output, errors) = paths(s.batch.id)
        if let data = try? Data(contentsOf: URL(fileURLWithPath: output)), !data.isEmpty {
            s.batch.outputFileId = try? store(data, filename: "\(s.batch.id)_output.jsonl", purpose: "batch_output", owner: s.owner).id
        }
        if let data = try? Data(contentsOf: URL(fileURLWithPath: errors)), !data.isEmpty {
            s.batch.errorFileId = try? store(data, filename: "\(s.batch.id)_error.jsonl", purpose: "batch_output", owner: s.owner).id
        }
        s.batch.status = status
        switch status {
        case .completed: s.batch.completedAt = Wire.now
        case .cancelled: s.batch.cancelledAt = Wire.now
        case .expired: s.batch.expiredAt = Wire.now
        default: s.batch.failedAt = Wire.now
        }
        save(s)
        store.release(s.batch.id)
    }

    private func cancel(_ id: String, _ caller: Caller) throws(APIError) -> BatchObject {
        transitions.lock()
        defer { transitions.unlock() }
        var s = try batch(id, caller)
        guard [.validating, .inProgress].contains(s.batch.status) else {
            throw .invalidRequest("A batch that is \(s.batch.status.rawValue) cannot be cancelled.", param: "batch_id", code: "invalid_state")
        }
        s.batch.status = .cancelling
        s.batch.cancellingAt = Wire.now
        save(s)
        lock.withLock { runners[id] }?.cancel()
        return current(s.batch)
    }
}
