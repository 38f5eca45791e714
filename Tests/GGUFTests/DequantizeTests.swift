import Foundation
import Testing
import GGUF

/// Dequantisation of every supported type against the `gguf` Python
/// package's own dequantize (Tests/Fixtures/gguf/README.md says how the
/// fixture was made).
struct DequantizeTests {
    static let types = try! GGUFFile(path: fixturesDirectory().appendingPathComponent("gguf/types.gguf").path)

    @Test(arguments: GGMLType.allCases)
    func everyTypeIsCovered(_ type: GGMLType) throws {
        let tensor = try #require(Self.types.tensor(named: type.name.lowercased()), "fixture lacks tensor for \(type.name)")
        #expect(tensor.type == type)
    }

    /// Each tensor `x` has `x.expected`: the reference's dequantisation of it.
    @Test(arguments: types.tensors.filter { !$0.name.hasSuffix(".expected") }.map(\.name))
    func matchesReference(_ name: String) throws {
        let file = Self.types
        let tensor = try #require(file.tensor(named: name))
        let type = tensor.type
        let expected = try #require(file.tensor(named: name + ".expected"))
        #expect(expected.type == .f32)
        #expect(tensor.shape == expected.shape)
        let ours = file.floats(of: tensor), theirs = file.floats(of: expected)
        #expect(ours.count == theirs.count)
        var mismatches = 0
        for (a, b) in zip(ours, theirs) where !(a == b || abs(a - b) <= 1e-6 * max(1, abs(b))) { mismatches += 1 }
        #expect(mismatches == 0, "\(mismatches) of \(ours.count) values differ for \(type.name)")
        #expect(ours.contains { $0 != 0 }, "fixture for \(type.name) is all zeros")
    }
}
