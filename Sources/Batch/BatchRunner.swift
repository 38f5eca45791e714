import Foundation
import Metering
import OpenAI
import Serving

/// Runs an OpenAI Batch API input file through the `Service`: every line
/// takes the same path as an HTTP request (validation, the engine, metering
/// under the batch's id), `workers` of them at once so the engine's
/// continuous batching stays full. Output lines are written in completion
/// order, each as soon as it is done; lines already in the output or error
/// file are skipped, so running the same command again resumes.
public final class BatchRunner: @unchecked Sendable {  // counters under `lock`
    public struct Summary: Sendable {
        public var total = 0
        public var skipped = 0
        public var succeeded = 0
        /// Requests the API refused or failed (an output line with a non-200 status).
        public var failed = 0
        /// Lines that were not requests (the error file).
        public var invalid = 0
        public var promptTokens = 0
        public var completionTokens = 0
        public var cost = Decimal(0)
        public var seconds = 0.0
        /// The server began shutting down: the lines not yet answered are left for a later run.
        public var interrupted = false
        /// The completion window closed before every line was answered.
        public var expired = false
        public var done: Int { succeeded + failed + invalid }
    }

    let service: Service
    let input: String
    let output: AppendLog
    let errors: AppendLog
    let workers: Int
    public let batchID: String
    /// Whom the lines run as (and are billed to): the batch's owner.
    let caller: Caller
    private let lock = NSLock()
    private var summary = Summary()
    private var seen: Set<String>
    /// custom_ids in the output file when the run began.
    private let alreadyDone: Set<String>
    /// Input line numbers in the error file when the run began.
    private let reportedLines: Set<Int>
    private let reader: LineReader
    private let start = Date()
    private var cancelled = false
    /// Lines a run before this one answered and metered (their row holds the answer) but did not write out.
    private let answered: [String: LedgerRow]
    /// Lines answered before this run: in the output or error file here, or metered in the ledger
    /// (on another replica, whose files these are not).
    public let answeredBefore: Int

    /// Opens every file first: an unreadable input or unwritable output is an error before any work.
    /// Lines are taken until `deadline` (the batch's completion window); those running then still finish.
    let deadline: Date?

    public init(service: Service, input: String, output: String, errors: String, workers: Int, batchID: String? = nil,
                caller: Caller = .anonymous, deadline: Date? = nil) throws {
        guard FileManager.default.isReadableFile(atPath: input) else { throw BatchError("cannot read \(input)") }
        self.service = service
        self.input = input
        self.deadline = deadline
        self.caller = caller
        reader = try LineReader(path: input)
        do { self.output = try AppendLog(path: output) } catch { throw BatchError("cannot write \(output): \(error)") }
        do { self.errors = try AppendLog(path: errors) } catch { throw BatchError("cannot write \(errors): \(error)") }
        self.workers = max(1, workers)
        let done = try self.output.written(), reported = try self.errors.written()
        seen = done.customIDs
        alreadyDone = done.customIDs
        reportedLines = reported.lines
        summary.skipped = done.customIDs.count + reported.lines.count
        summary.total = try LineReader.count(path: input)
        let batchID = batchID ?? "batch_" + RequestContext.makeID()
        self.batchID = batchID
        do { answered = try service.meter.map { try $0.ledger.reader.batchAnswers(batchID: batchID) } ?? [:] } catch {
            throw BatchError("cannot read the ledger: \(error)")
        }
        answeredBefore = done.customIDs.union(answered.keys).count + reported.lines.count
    }

    /// Stops taking new lines; those running finish and are written.
    public func cancel() { lock.withLock { cancelled = true } }

    /// The server is stopping: stop taking lines, and leave lines cut short for a later run.
    public func interrupt() {
        lock.withLock {
            cancelled = true
            summary.interrupted = true
        }
    }

    public var progress: Summary { lock.withLock { var s = summary; s.seconds = Date().timeIntervalSince(start); return s } }

    public func run() -> Summary {
        let finished = DispatchGroup()
        for _ in 0..<workers {
            finished.enter()
            Thread.detachNewThread { [self] in
                work()
                finished.leave()
            }
        }
        finished.wait()
        return progress
    }

    /// Every input line ends as one output line or one error line; lines
    /// written by an earlier run (by custom_id, or by line number in the error
    /// file) are skipped.
    private func work() {
        while let (bytes, number) = lock.withLock({ () -> (Data, Int)? in
            if let deadline, Date() >= deadline, !cancelled {
                cancelled = true
                summary.expired = true
            }
            return cancelled ? nil : reader.next().map { ($0, reader.lineNumber) }
        }) {
            guard !reportedLines.contains(number) else { continue }
            let line: BatchLine
            do { line = try BatchLine.parse(bytes) } catch {
                invalid(error, line: number)
                continue
            }
            if alreadyDone.contains(line.customID) { continue }
            guard claim(line.customID) else {
                invalid(BatchLine.Problem(code: "duplicate_custom_id", message: "custom_id '\(line.customID)' appears more than once.",
                                          customID: line.customID), line: number)
                continue
            }
            execute(line)
        }
    }

    /// True if this run takes the id (first time it is seen).
    private func claim(_ id: String) -> Bool { lock.withLock { seen.insert(id).inserted } }

    private func invalid(_ problem: BatchLine.Problem, line: Int) {
        let id = problem.customID.map(jsonString) ?? "null"
        errors.append(#"{"id":"batch_req_\#(RequestContext.makeID())","custom_id":\#(id),"line":\#(line),"response":null,"error":{"code":\#(jsonString(problem.code)),"message":\#(jsonString(problem.message))}}"#)
        lock.withLock { summary.invalid += 1 }
    }

    private func execute(_ line: BatchLine) {
        if let row = answered[line.customID], let body = row.response {
            write(line, requestID: row.requestID, status: row.status, body: body,
                  tokens: (row.promptTokens, row.completionTokens), cost: row.costUSD)
            return
        }
        let context = RequestContext(batchLine: BatchLineContext(batchID: batchID, customID: line.customID, owner: caller))
        var answer = run(line, context)
        // 503 is not this line's answer: while the ledger cannot be written, wait for it; otherwise (the
        // server is stopping or not ready) leave the line for a later run.
        while case .failure(let error) = answer, error.status == 503 {
            guard error.code == APIError.ledgerUnavailableCode, !lock.withLock({ cancelled }) else {
                interrupt()
                return
            }
            Thread.sleep(forTimeInterval: 1)
            answer = run(line, context)
        }
        switch answer {
        case .success(let completed):
            write(line, requestID: context.id, status: 200, body: String(decoding: completed.json, as: UTF8.self),
                  tokens: (completed.charge?.promptTokens ?? 0, completed.charge?.completionTokens ?? 0), cost: completed.charge?.cost ?? 0)
        case .failure(let error):
            write(line, requestID: context.id, status: error.status, body: String(decoding: error.body, as: UTF8.self),
                  tokens: (0, 0), cost: 0)
        }
    }

    private func run(_ line: BatchLine, _ context: RequestContext) -> Result<CompletedResponse, APIError> {
        do {
            let generation: Generation
            switch line.request {
            case .failure(let error):
                service.refused(error, endpoint: line.endpoint, context: context)
                return .failure(error)
            case .success(let request) where request.streams:  // refused as the Batch API refuses it, before the API
                return .failure(.invalidRequest("Streaming is not supported in batches.", param: "stream", code: "invalid_value"))
            case .success(.chat(let request)):
                generation = try service.chat(request, context: context)
            case .success(.completion(let request)):
                generation = try service.completion(request, context: context)
            case .success(.responses(let request)):
                generation = try service.responses(request, context: context)
            }
            guard case .completed(let completed) = generation else { return .failure(.server("A batch line streamed.")) }
            return .success(completed)
        } catch {
            return .failure(error)
        }
    }

    private func write(_ line: BatchLine, requestID: String, status: Int, body: String, tokens: (prompt: Int, completion: Int),
                       cost: Decimal) {
        output.append(#"{"id":"batch_req_\#(requestID)","custom_id":\#(jsonString(line.customID)),"response":{"status_code":\#(status),"request_id":\#(jsonString(requestID)),"body":\#(body)},"error":null}"#)
        lock.withLock {
            if status == 200 { summary.succeeded += 1 } else { summary.failed += 1 }
            summary.promptTokens += tokens.prompt
            summary.completionTokens += tokens.completion
            summary.cost += cost
        }
    }
}
