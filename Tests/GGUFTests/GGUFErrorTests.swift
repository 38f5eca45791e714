import Foundation
import Testing
import GGUF

/// Every way a file can be broken is a typed error, never a crash.
struct GGUFErrorTests {
    func open(_ bytes: GGUFBytes) throws -> GGUFFile {
        let path = try bytes.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try GGUFFile(path: path)
    }

    func expectError(_ bytes: GGUFBytes, _ check: (GGUFError) -> Bool) throws {
        do {
            _ = try open(bytes)
            Issue.record("expected an error")
        } catch let error as GGUFError {
            #expect(check(error), "got \(error)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func validFileOpens() throws {
        let file = try open(.valid())
        #expect(file.metadata["answer"] == .uint32(42))
        #expect(file.tensors.map(\.name) == ["t"])
        #expect(file.floats(of: file.tensors[0]) == [0, 1, 2, 3])
    }

    @Test func wrongMagic() throws {
        var b = GGUFBytes.valid()
        b.data.replaceSubrange(0..<4, with: Array("GGML".utf8))
        try expectError(b) { if case .badMagic = $0 { true } else { false } }
    }

    @Test func unsupportedVersion() throws {
        try expectError(.valid(version: 1)) { $0 == .unsupportedVersion(1) }
        try expectError(.valid(version: 4)) { $0 == .unsupportedVersion(4) }
    }

    @Test func versionTwoOpens() throws {
        #expect(try open(.valid(version: 2)).version == 2)
    }

    @Test func everyTruncationIsAnError() throws {
        let full = GGUFBytes.valid().data
        for length in 0..<full.count {
            var b = GGUFBytes()
            b.data = full.prefix(length)
            do {
                _ = try open(b)
                Issue.record("prefix of \(length) bytes opened")
            } catch let error as GGUFError {
                switch error {
                case .truncated, .tensorOutOfBounds, .absurdSize: break
                default: Issue.record("prefix of \(length) bytes: unexpected \(error)")
                }
            }
        }
    }

    @Test func unknownTensorType() throws {
        try expectError(.valid(tensorType: 10)) { $0 == .unknownTensorType(tensor: "t", raw: 10) }
        try expectError(.valid(tensorType: 999)) { $0 == .unknownTensorType(tensor: "t", raw: 999) }
        #expect(GGUFError.unknownTensorType(tensor: "t", raw: 10).description.contains("Q2_K"))
    }

    @Test func offsetPastTheEnd() throws {
        try expectError(.valid(offset: 1 << 20)) { if case .tensorOutOfBounds = $0 { true } else { false } }
        try expectError(.valid(offset: UInt64.max - 31)) { if case .tensorOutOfBounds = $0 { true } else { false } }
        try expectError(.valid(elements: 8)) { if case .tensorOutOfBounds = $0 { true } else { false } }
    }

    @Test func misalignedOffset() throws {
        try expectError(.valid(offset: 4)) { $0 == .misalignedTensor(tensor: "t", offset: 4, alignment: 32) }
    }

    @Test func absurdSizes() throws {
        // Tensor count of 2^60.
        var b = GGUFBytes.valid()
        b.data.replaceSubrange(8..<16, with: withUnsafeBytes(of: UInt64(1 << 60).littleEndian, Array.init))
        try expectError(b) { if case .absurdSize = $0 { true } else { false } }
        // A string length far past the end of the file.
        b = GGUFBytes.valid()
        b.data.replaceSubrange(24..<32, with: withUnsafeBytes(of: UInt64.max.littleEndian, Array.init))
        try expectError(b) { if case .absurdSize = $0 { true } else { false } }
        // A tensor of 2^62 elements.
        try expectError(.valid(elements: 1 << 62)) { if case .badShape = $0 { true } else { false } }
        try expectError(.valid(elements: 0)) { if case .badShape = $0 { true } else { false } }
        // Two dimensions in range whose product wraps around 2^64 (2^32 · 2^32): found by the gguf fuzz target.
        var wrapped = GGUFBytes()
        wrapped.u32(0x4655_4747); wrapped.u32(3); wrapped.u64(1); wrapped.u64(0)
        wrapped.string("t"); wrapped.u32(2); wrapped.u64(1 << 32); wrapped.u64(1 << 32); wrapped.u32(0); wrapped.u64(0)
        try expectError(wrapped) { if case .badShape = $0 { true } else { false } }
    }

    @Test func absurdArrayLength() throws {
        var b = GGUFBytes()
        b.u32(0x4655_4747); b.u32(3); b.u64(0); b.u64(1)
        b.string("big"); b.u32(9); b.u32(5); b.u64(1 << 40)
        try expectError(b) { if case .absurdSize = $0 { true } else { false } }
    }

    @Test func unknownValueType() throws {
        var b = GGUFBytes()
        b.u32(0x4655_4747); b.u32(3); b.u64(0); b.u64(1)
        b.string("odd"); b.u32(77); b.u32(0)
        try expectError(b) { $0 == .unknownValueType(key: "odd", raw: 77) }
    }

    @Test func badAlignment() throws {
        var b = GGUFBytes()
        b.u32(0x4655_4747); b.u32(3); b.u64(0); b.u64(1)
        b.string("general.alignment"); b.u32(4); b.u32(48)
        try expectError(b) { $0 == .badAlignment(48) }
    }

    @Test func missingFile() throws {
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(throws: GGUFError.self) { try GGUFFile(path: NSTemporaryDirectory()) }
    }

    /// Random byte flips in a valid file never crash the reader.
    @Test func mutatedFilesNeverCrash() throws {
        let full = GGUFBytes.valid().data
        var random = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var b = GGUFBytes()
            b.data = full
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                b.data[Int.random(in: 0..<b.data.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            if let file = try? open(b) { for t in file.tensors { _ = file.floats(of: t) } }
        }
    }
}
