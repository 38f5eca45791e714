import Foundation

/// Reads a file line by line in 1 MiB chunks: inputs of millions of lines are never held whole.
final class LineReader {
    private let handle: FileHandle
    private var buffer = [UInt8]()
    /// Where the unread part of `buffer` starts.
    private var cursor = 0
    private var atEnd = false
    /// The 1-based number of the line `next` returned last (blank lines count).
    private(set) var lineNumber = 0

    init(path: String) throws {
        handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    }

    deinit { try? handle.close() }

    /// The next line that is not blank, without its newline, or nil at the end.
    func next() -> Data? {
        while true {
            if let newline = buffer[cursor...].firstIndex(of: 0x0A) {
                let line = buffer[cursor..<newline]
                cursor = newline + 1
                lineNumber += 1
                if Self.isBlank(line) { continue }
                return Data(line)
            }
            if atEnd {
                let rest = buffer[cursor...]
                cursor = buffer.count
                if !rest.isEmpty { lineNumber += 1 }
                return rest.isEmpty || Self.isBlank(rest) ? nil : Data(rest)
            }
            buffer.removeFirst(cursor)
            cursor = 0
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { atEnd = true } else { buffer.append(contentsOf: chunk) }
        }
    }

    private static func isBlank(_ bytes: ArraySlice<UInt8>) -> Bool { bytes.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 } }

    /// Lines in a file, counted without keeping them.
    static func count(path: String) throws -> Int {
        let reader = try LineReader(path: path)
        var n = 0
        while reader.next() != nil { n += 1 }
        return n
    }
}

/// An output file lines are appended to, each written whole by one call and
/// flushed to the kernel at once, so an interrupted run leaves at most one
/// partial line, which the next run cuts off before resuming.
final class AppendLog: @unchecked Sendable {  // writes under `lock`
    let path: String
    private let handle: FileHandle
    private let lock = NSLock()

    init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw BatchError("cannot create \(path)") }
        }
        handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try Self.cutPartialLastLine(handle)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    func append(_ line: String) {
        lock.withLock { handle.write(Data((line + "\n").utf8)) }
    }

    /// The custom_ids and input line numbers already written (a resumed run skips them).
    func written() throws -> (customIDs: Set<String>, lines: Set<Int>) {
        let reader = try LineReader(path: path)
        var ids = Set<String>(), lines = Set<Int>()
        while let line = reader.next() {
            guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else { continue }
            if let id = object["custom_id"] as? String { ids.insert(id) }
            if let number = object["line"] as? Int { lines.insert(number) }
        }
        return (ids, lines)
    }

    private static func cutPartialLastLine(_ handle: FileHandle) throws {
        let size = try handle.seekToEnd()
        guard size > 0 else { return }
        var end = size
        while end > 0 {
            let start = end >= 65_536 ? end - 65_536 : 0
            try handle.seek(toOffset: start)
            let chunk = handle.readData(ofLength: Int(end - start))
            if let newline = chunk.lastIndex(of: 0x0A) {
                let keep = start + UInt64(newline - chunk.startIndex) + 1
                if keep < size { try handle.truncate(atOffset: keep) }
                return
            }
            end = start
        }
        try handle.truncate(atOffset: 0)  // no complete line at all
    }
}

public struct BatchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
