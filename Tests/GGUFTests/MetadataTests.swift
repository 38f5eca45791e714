import Foundation
import Testing
import GGUF

/// Metadata of every value type, nested arrays, alignment and the tensor
/// table, against what the `gguf` Python package reads from the same file.
struct MetadataTests {
    struct Expected: Decodable {
        struct Key: Decodable { let key: String; let type: String; let value: JSONValue }
        struct Tensor: Decodable { let name: String; let shape_ne: [Int]; let type: String; let data_offset_absolute: Int; let values_f32: [Float] }
        let keys: [Key]
        let tensors: [Tensor]
        let alignment: Int
    }

    static let expected: Expected = {
        let url = fixturesDirectory().appendingPathComponent("gguf/metadata.json")
        return try! JSONDecoder().decode(Expected.self, from: Data(contentsOf: url))
    }()

    @Test(arguments: ["metadata.gguf", "metadata-v2.gguf"])
    func readsEveryValueType(_ name: String) throws {
        let file = try GGUFFile(path: fixturesDirectory().appendingPathComponent("gguf/" + name).path)
        #expect(file.version == (name.contains("v2") ? 2 : 3))
        #expect(file.alignment == Self.expected.alignment)
        // GGUF.* are the Python reader's pseudo-keys for header fields.
        for key in Self.expected.keys where !key.key.hasPrefix("GGUF.") {
            let value = try #require(file.metadata[key.key], "missing \(key.key)")
            #expect(value.typeName == key.type, "\(key.key)")
            #expect(key.value.matches(value), "\(key.key): \(value) vs \(key.value)")
        }
        #expect(file.tensors.map(\.name) == Self.expected.tensors.map(\.name))
        for (ours, theirs) in zip(file.tensors, Self.expected.tensors) {
            #expect(ours.shape == theirs.shape_ne)
            #expect(ours.type.name == theirs.type)
            #expect(ours.fileOffset == theirs.data_offset_absolute)
            #expect(file.floats(of: ours) == theirs.values_f32)
            #expect(ours.fileOffset % file.alignment == 0)
        }
    }
}

/// A JSON value as the reference wrote it, compared loosely by kind.
enum JSONValue: Decodable {
    case integer(Int64), unsigned(UInt64), number(Double), string(String), bool(Bool), array([JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let u = try? c.decode(UInt64.self) { self = .unsigned(u) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { self = .array(try c.decode([JSONValue].self)) }
    }

    func matches(_ value: GGUFValue) -> Bool {
        switch (self, value) {
        case (.bool(let a), .bool(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.integer(let a), .uint64(let b)): a >= 0 && UInt64(a) == b
        case (.integer(let a), .float32), (.integer(let a), .float64): Double(a) == value.double
        case (.integer(let a), _): value.int.map(Int64.init) == a
        case (.unsigned(let a), .uint64(let b)): a == b
        case (.number(let a), .float32(let b)): Float(a) == b
        case (.number(let a), .float64(let b)): a == b
        case (.array(let a), .array(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.matches($1) }
        default: false
        }
    }
}
