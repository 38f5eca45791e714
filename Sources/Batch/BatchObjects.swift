import Foundation
import Metering
import OpenAI

/// OpenAI's file object.
struct FileObject: Codable, Sendable {
    var id: String
    var object = "file"
    var bytes: Int
    var createdAt: Int
    var filename: String
    var purpose: String
    var status = "processed"
}

/// A batch's life, as OpenAI names it: it moves forward only, to one of the final four.
enum BatchStatus: String, Codable, Sendable {
    case validating, inProgress = "in_progress", finalizing, cancelling
    case completed, failed, expired, cancelled

    var isFinal: Bool { [.completed, .failed, .expired, .cancelled].contains(self) }
}

/// OpenAI's batch object; also how a batch is kept on disk between restarts.
struct BatchObject: Codable, Sendable {
    struct Counts: Codable, Sendable { var total = 0, completed = 0, failed = 0 }
    struct Errors: Codable, Sendable {
        struct Entry: Codable, Sendable { var code: String; var message: String }
        var object = "list"
        var data: [Entry]
    }

    var id: String
    var object = "batch"
    var endpoint: String
    var errors: Errors?
    var inputFileId: String
    var completionWindow: String
    var status: BatchStatus
    var outputFileId: String?
    var errorFileId: String?
    var createdAt: Int
    var inProgressAt: Int?
    var expiresAt: Int?
    var finalizingAt: Int?
    var completedAt: Int?
    var failedAt: Int?
    var expiredAt: Int?
    var cancellingAt: Int?
    var cancelledAt: Int?
    var requestCounts = Counts()
    var metadata: [String: String]?

    /// Statuses from which the batch still has work (resumed after a restart).
    var isActive: Bool { !status.isFinal }

    /// Every key present, nulls included, as OpenAI sends them.
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(endpoint, forKey: .endpoint)
        try c.encode(errors, forKey: .errors)
        try c.encode(inputFileId, forKey: .inputFileId)
        try c.encode(completionWindow, forKey: .completionWindow)
        try c.encode(status, forKey: .status)
        try c.encode(outputFileId, forKey: .outputFileId)
        try c.encode(errorFileId, forKey: .errorFileId)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(inProgressAt, forKey: .inProgressAt)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(finalizingAt, forKey: .finalizingAt)
        try c.encode(completedAt, forKey: .completedAt)
        try c.encode(failedAt, forKey: .failedAt)
        try c.encode(expiredAt, forKey: .expiredAt)
        try c.encode(cancellingAt, forKey: .cancellingAt)
        try c.encode(cancelledAt, forKey: .cancelledAt)
        try c.encode(requestCounts, forKey: .requestCounts)
        try c.encode(metadata, forKey: .metadata)
    }
}

/// A file as kept on disk: the wire object and the key that owns it.
struct StoredFile: Codable, Sendable {
    var file: FileObject
    var owner: Caller
}

/// A batch as kept on disk between restarts: the wire object, the key it
/// runs as, and what tells a batch that keeps killing the server from one
/// that was merely stopped.
struct StoredBatch: Codable, Sendable {
    var batch: BatchObject
    var owner: Caller
    /// Lines answered when the batch last started running.
    var answeredAtStart = 0
    /// That run ended (done, or stopped cleanly); false after a crash.
    var runEnded = true
    /// Consecutive starts that crashed before answering another line.
    var stalledStarts = 0

    /// Starts that crash without progress after which the batch is failed, not resumed again.
    static let maxStalledStarts = 3
}

/// Reading back what `WireJSON.encode` wrote (files and batches kept on disk).
enum Wire {
    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) -> T? {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(type, from: data)
    }

    static var now: Int { Int(Date().timeIntervalSince1970) }
}
