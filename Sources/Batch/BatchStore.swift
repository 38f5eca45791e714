import Foundation
import Metering
import OpenAI

/// Where the Files and Batches API keeps uploads and batch state: the data
/// directory (one server), or the PostgreSQL database of a shared ledger, so
/// that every replica answers every call. A batch runs on one replica at a
/// time: the one that holds its claim.
protocol BatchStore: Sendable {
    func save(_ file: StoredFile, content: Data) throws
    func file(_ id: String) -> StoredFile?
    func content(_ id: String) -> Data?
    func allFiles() -> [StoredFile]
    func delete(file id: String)
    func save(_ batch: StoredBatch)
    func batch(_ id: String) -> StoredBatch?
    func allBatches() -> [StoredBatch]
    /// Takes the right to run batch `id`; true if this process holds it now.
    func claim(_ id: String) -> Bool
    /// Gives the right up (the run ended, or this process is stopping).
    func release(_ id: String)
    /// A local file with the content of file `id`, for a runner to read line by line.
    func localPath(_ id: String) -> String?
}

/// Uploads and batches as files in the data directory: `files/ID` (content) and
/// `files/ID.json`, `batches/ID.json`. One process runs every batch.
struct DirectoryBatchStore: BatchStore {
    let files: URL
    let batchDirectory: URL

    init(dataDirectory: String) throws {
        files = URL(fileURLWithPath: dataDirectory).appendingPathComponent("files")
        batchDirectory = URL(fileURLWithPath: dataDirectory).appendingPathComponent("batches")
        for dir in [files, batchDirectory] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    }

    func save(_ file: StoredFile, content: Data) throws {
        try content.write(to: files.appendingPathComponent(file.file.id), options: .atomic)
        try WireJSON.encode(file).write(to: files.appendingPathComponent(file.file.id + ".json"), options: .atomic)
    }

    func file(_ id: String) -> StoredFile? {
        (try? Data(contentsOf: files.appendingPathComponent(id + ".json"))).flatMap { Wire.decode(StoredFile.self, $0) }
    }

    func content(_ id: String) -> Data? { try? Data(contentsOf: files.appendingPathComponent(id)) }

    func allFiles() -> [StoredFile] { Self.objects(in: files) }

    func delete(file id: String) {
        try? FileManager.default.removeItem(at: files.appendingPathComponent(id))
        try? FileManager.default.removeItem(at: files.appendingPathComponent(id + ".json"))
    }

    func save(_ batch: StoredBatch) {
        try? WireJSON.encode(batch).write(to: batchDirectory.appendingPathComponent(batch.batch.id + ".json"), options: .atomic)
    }

    func batch(_ id: String) -> StoredBatch? {
        (try? Data(contentsOf: batchDirectory.appendingPathComponent(id + ".json"))).flatMap { Wire.decode(StoredBatch.self, $0) }
    }

    func allBatches() -> [StoredBatch] { Self.objects(in: batchDirectory) }

    func claim(_ id: String) -> Bool { true }
    func release(_ id: String) {}

    func localPath(_ id: String) -> String? { files.appendingPathComponent(id).path }

    private static func objects<T: Decodable>(in directory: URL) -> [T] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            (try? Data(contentsOf: directory.appendingPathComponent(name))).flatMap { Wire.decode(T.self, $0) }
        }
    }
}

/// Uploads and batches in the shared ledger's PostgreSQL database. A batch's
/// `runner` is the replica running it; another replica may take it over once
/// that replica's heartbeat (kept by its ledger) is older than the replica timeout.
final class PostgresBatchStore: BatchStore, @unchecked Sendable {  // `connection` under `lock`
    private let url: String
    private let replicaID: String
    /// Where input files are copied for the runner to read.
    private let cache: URL
    private let lock = NSLock()
    private var connection: PostgresConnection?

    init(url: String, replicaID: String, dataDirectory: String) throws {
        self.url = url
        self.replicaID = replicaID
        cache = URL(fileURLWithPath: dataDirectory).appendingPathComponent("files")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
    }

    /// Runs `sql` on the store's connection, connecting again if the last one was lost.
    @discardableResult
    private func query(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        try lock.withLock {
            if connection?.isConnected != true { connection = try PostgresConnection(url: url) }
            return try connection!.query(sql, parameters)
        }
    }

    func save(_ file: StoredFile, content: Data) throws {
        try query("INSERT INTO wafer_files (id, created_at, owner, object, content) VALUES ($1, $2, $3, $4, decode($5, 'hex'))",
                  [file.file.id, "\(file.file.createdAt)", file.owner.name, String(decoding: WireJSON.encode(file), as: UTF8.self), Self.hex(content)])
    }

    func file(_ id: String) -> StoredFile? {
        (try? query("SELECT object FROM wafer_files WHERE id = $1", [id]))?.first?.first??.data(using: .utf8)
            .flatMap { Wire.decode(StoredFile.self, $0) }
    }

    func content(_ id: String) -> Data? {
        (try? query("SELECT encode(content, 'hex') FROM wafer_files WHERE id = $1", [id]))?.first?.first?.flatMap(Self.bytes)
    }

    func allFiles() -> [StoredFile] {
        ((try? query("SELECT object FROM wafer_files")) ?? []).compactMap { $0[0]?.data(using: .utf8).flatMap { Wire.decode(StoredFile.self, $0) } }
    }

    func delete(file id: String) { _ = try? query("DELETE FROM wafer_files WHERE id = $1", [id]) }

    func save(_ batch: StoredBatch) {
        _ = try? query("""
            INSERT INTO wafer_batches (id, created_at, state) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET state = excluded.state
            """, [batch.batch.id, "\(batch.batch.createdAt)", String(decoding: WireJSON.encode(batch), as: UTF8.self)])
    }

    func batch(_ id: String) -> StoredBatch? {
        (try? query("SELECT state FROM wafer_batches WHERE id = $1", [id]))?.first?.first??.data(using: .utf8)
            .flatMap { Wire.decode(StoredBatch.self, $0) }
    }

    func allBatches() -> [StoredBatch] {
        ((try? query("SELECT state FROM wafer_batches")) ?? []).compactMap { $0[0]?.data(using: .utf8).flatMap { Wire.decode(StoredBatch.self, $0) } }
    }

    func claim(_ id: String) -> Bool {
        let taken = try? query("""
            UPDATE wafer_batches SET runner = $2 WHERE id = $1 AND (runner IS NULL OR runner = $2 OR runner NOT IN
                (SELECT id FROM wafer_replicas WHERE heartbeat_at > extract(epoch from clock_timestamp()) - $3::double precision))
            RETURNING id
            """, [id, replicaID, "\(Ledger.replicaTimeout)"])
        return taken?.isEmpty == false
    }

    func release(_ id: String) { _ = try? query("UPDATE wafer_batches SET runner = NULL WHERE id = $1 AND runner = $2", [id, replicaID]) }

    func localPath(_ id: String) -> String? {
        let path = cache.appendingPathComponent(id)
        if !FileManager.default.fileExists(atPath: path.path) {
            guard let data = content(id), (try? data.write(to: path, options: .atomic)) != nil else { return nil }
        }
        return path.path
    }

    private static func hex(_ data: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: data.count * 2)
        for (i, byte) in data.enumerated() {
            out[2 * i] = digits[Int(byte >> 4)]
            out[2 * i + 1] = digits[Int(byte & 15)]
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func bytes(_ hex: String) -> Data? {
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        let utf8 = Array(hex.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = Data(capacity: utf8.count / 2)
        for i in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = value(utf8[i]), let low = value(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }
}
