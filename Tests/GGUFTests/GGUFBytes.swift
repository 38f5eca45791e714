import Foundation

/// Writes small GGUF files byte by byte, so that tests can build valid files
/// and then break them in one precise way.
struct GGUFBytes {
    var data = Data()

    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
    mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); data.append(contentsOf: Array(s.utf8)) }

    /// Header, one UINT32 key, a string key, and one F32 tensor of `elements` values.
    static func valid(version: UInt32 = 3, tensorType: UInt32 = 0, elements: UInt64 = 4, offset: UInt64 = 0,
                      dataBytes: Int = 16) -> GGUFBytes {
        var b = GGUFBytes()
        b.u32(0x4655_4747); b.u32(version)
        b.u64(1)  // tensors
        b.u64(2)  // metadata
        b.string("general.architecture"); b.u32(8); b.string("test")
        b.string("answer"); b.u32(4); b.u32(42)
        b.string("t"); b.u32(1); b.u64(elements); b.u32(tensorType); b.u64(offset)
        while b.data.count % 32 != 0 { b.data.append(0) }
        for i in 0..<dataBytes / 4 { withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { b.data.append(contentsOf: $0) } }
        return b
    }

    func write() throws -> String {
        let path = NSTemporaryDirectory() + "wafer-gguf-\(UUID().uuidString).gguf"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// The folder of committed test fixtures.
func fixturesDirectory() -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
}
