import Testing
import GGUF
@testable import Runtime

/// The integer kernels against a float64 reference, and the repacked
/// layouts against the original blocks. Uses a real Q4_1 and a real Q8_0
/// tensor of the default model.
@Suite(.enabled(if: modelTestsEnabled, "model-level tests run in release builds (swift test -c release)"))
struct IntegerKernelTests {
    static let file = SharedModels.file

    /// Rows of activations with a spread of magnitudes, including an all-zero block.
    static func activations(rows: Int, inputs: Int) -> [Float] {
        var state: UInt64 = 12345
        return (0..<rows * inputs).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let unit = Float(state >> 40) / Float(1 << 24) - 0.5
            return i % inputs < 32 && i / inputs == 1 ? 0 : unit * Float(1 + i % 7)
        }
    }

    static func repack(_ type: GGMLType, _ source: UnsafeRawPointer, outputs: Int, inputs: Int) -> UnsafeMutableRawPointer {
        Repacked.repack(type, source, outputs: outputs, inputs: inputs)
    }

    @Test(arguments: ["blk.0.ffn_gate.weight", "token_embd.weight"])
    func repackedBlocksDequantiseToTheOriginals(_ name: String) throws {
        let tensor = try #require(Self.file.tensor(named: name))
        let (inputs, outputs) = (tensor.shape[0], tensor.shape[1])
        let source = Self.file.bytes(of: tensor).baseAddress!
        let packed = Self.repack(tensor.type, source, outputs: outputs, inputs: inputs)
        defer { packed.deallocate() }
        var ours = [Float](repeating: 0, count: inputs), original = ours
        for row in [0, 1, 7, 8, 100, outputs - 1] {
            Repacked.dequantize(tensor.type, packed, blocks: inputs / 32, row: row, into: &ours)
            Dequantize.run(tensor.type, from: source + row * tensor.type.byteCount(elements: inputs), to: &original, count: inputs)
            #expect(ours == original, "\(name) row \(row)")
        }
    }

    /// y = W·x with x quantised to 8 bits: the exact integer sums, scaled in float64.
    static func reference(_ type: GGMLType, _ w: UnsafeRawPointer, rowBytes: Int, output: Int, _ a: Q8Activations, row: Int) -> Double {
        var total = 0.0
        for b in 0..<a.blocks {
            let at = row * a.blocks + b
            let block = w + output * rowBytes + b * (type == .q4_1 ? 20 : 34)
            let d = Double(Dequantize.half(block, 0))
            var isum = 0
            for e in 0..<32 {
                let weight = type == .q4_1
                    ? Int(e < 16 ? block.load(fromByteOffset: 4 + e, as: UInt8.self) & 0xF : block.load(fromByteOffset: 4 + e - 16, as: UInt8.self) >> 4)
                    : Int(block.load(fromByteOffset: 2 + e, as: Int8.self))
                isum += weight * Int(a.q[at * 32 + e])
            }
            total += d * Double(a.scale[at]) * Double(isum)
            if type == .q4_1 { total += Double(Dequantize.half(block, 2)) * Double(a.sum[at]) }
        }
        return total
    }

    @Test(arguments: ["blk.0.ffn_gate.weight", "token_embd.weight"])
    func kernelsMatchTheReferenceAndIgnoreTheRowCount(_ name: String) throws {
        let tensor = try #require(Self.file.tensor(named: name))
        let (inputs, outputs) = (tensor.shape[0], tensor.shape[1])
        let rowBytes = tensor.type.byteCount(elements: inputs)
        let source = Self.file.bytes(of: tensor).baseAddress!
        let rows = 5  // a tile of four and a tail of one
        let x = Self.activations(rows: rows, inputs: inputs)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Q8Activations.bytes(rows: rows, inputs: inputs, grouping: .blocks),
                                                      alignment: 64)
        defer { buffer.deallocate() }
        let a = Q8Activations(x, rows: rows, inputs: inputs, grouping: .blocks, buffer: buffer)
        let checked = 0..<64
        var y = [Float](repeating: 0, count: rows * outputs)
        let packed = Self.repack(tensor.type, source, outputs: outputs, inputs: inputs)
        defer { packed.deallocate() }
        a.multiplyRepacked(tensor.type, packed, outputs: checked, rows: rows, y: &y, ldy: outputs)
        // The one-output-at-a-time kernels (used when a matrix's rows are not a multiple of 8) as well.
        var perRow = [Float](repeating: 0, count: rows * outputs)
        a.multiply(tensor.type, weights: source, rowBytes: rowBytes, outputs: checked, rows: rows, y: &perRow, ldy: outputs)
        for r in 0..<rows {
            for o in checked {
                let expected = Self.reference(tensor.type, source, rowBytes: rowBytes, output: o, a, row: r)
                #expect(abs(Double(y[r * outputs + o]) - expected) <= 1e-5 * max(1, abs(expected)), "\(name) row \(r) output \(o)")
                #expect(abs(Double(perRow[r * outputs + o]) - expected) <= 1e-5 * max(1, abs(expected)), "\(name) per-row kernel")
            }
        }
        // The last row alone: bit-identical to its result among five.
        let last: [Float] = Array(x[((rows - 1) * inputs)...])
        let alone = Q8Activations(last, rows: 1, inputs: inputs, grouping: .blocks, buffer: buffer)
        var single = [Float](repeating: 0, count: outputs)
        alone.multiplyRepacked(tensor.type, packed, outputs: checked, rows: 1, y: &single, ldy: outputs)
        #expect(Array(single[checked]) == Array(y[(rows - 1) * outputs + checked.lowerBound..<(rows - 1) * outputs + checked.upperBound]))
    }

    /// The other types have no tensor in the default model: random blocks with
    /// ordinary scales, 16 outputs × 512 inputs.
    static func randomBlocks(_ type: GGMLType, outputs: Int, inputs: Int) -> [UInt8] {
        var state: UInt64 = 99
        var bytes = (0..<outputs * type.byteCount(elements: inputs)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let blockBytes = type.blockBytes
        let scaleOffsets = switch type { case .q4_1, .q4_K, .q5_K, .q5_1: [0, 2]; case .q6_K: [208]; default: [0] }
        for block in stride(from: 0, to: bytes.count, by: blockBytes) {
            // d (and the minimum's scale) between 0.001 and 0.03: random bits could make them inf or NaN.
            for offset in scaleOffsets {
                let value = Float16(0.001 + 0.029 * Float(bytes[block + offset]) / 255)
                bytes[block + offset] = UInt8(value.bitPattern & 0xFF)
                bytes[block + offset + 1] = UInt8(value.bitPattern >> 8)
            }
        }
        return bytes
    }

    @Test(arguments: [GGMLType.q4_0, .q4_K, .q5_0, .q5_1, .q5_K, .q6_K])
    func otherTypesRepackExactlyAndMultiply(_ type: GGMLType) throws {
        let (outputs, inputs, rows) = (16, 512, 69)  // a block of 64 rows, then a tile of four and a tail of one
        let source = Self.randomBlocks(type, outputs: outputs, inputs: inputs)
        let rowBytes = type.byteCount(elements: inputs)
        try source.withUnsafeBytes { raw in
            let packed = Repacked.repack(type, raw.baseAddress!, outputs: outputs, inputs: inputs)
            defer { packed.deallocate() }
            var weights = [[Float]]()
            for o in 0..<outputs {
                var ours = [Float](repeating: 0, count: inputs), original = ours
                Repacked.dequantize(type, packed, blocks: inputs / 32, row: o, into: &ours)
                Dequantize.run(type, from: raw.baseAddress! + o * rowBytes, to: &original, count: inputs)
                #expect(ours == original, "\(type) row \(o): the packed form dequantises to other values")
                weights.append(original)
            }
            let x = Self.activations(rows: rows, inputs: inputs)
            let grouping = Q8Activations.grouping(forRepacked: type)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: Q8Activations.bytes(rows: rows, inputs: inputs, grouping: grouping),
                                                          alignment: 64)
            defer { buffer.deallocate() }
            let a = Q8Activations(x, rows: rows, inputs: inputs, grouping: grouping, buffer: buffer)
            var y = [Float](repeating: 0, count: rows * outputs)
            a.multiplyRepacked(type, packed, outputs: 0..<outputs, rows: rows, y: &y, ldy: outputs)
            for r in 0..<rows {
                for o in 0..<outputs {
                    // The dequantised weights against the quantised activations, in float64.
                    var expected = 0.0
                    for i in 0..<inputs { expected += Double(weights[o][i]) * Double(a.q[r * inputs + i]) * Double(a.scale(row: r, input: i)) }
                    #expect(abs(Double(y[r * outputs + o]) - expected) <= 1e-4 * max(1, abs(expected)), "\(type) row \(r) output \(o)")
                }
            }
            // A row alone (decode) gives its bits among 69: one from a tile, the tail.
            for r in [2, rows - 1] {
                let alone = Q8Activations(Array(x[r * inputs..<(r + 1) * inputs]), rows: 1, inputs: inputs, grouping: grouping, buffer: buffer)
                var single = [Float](repeating: 0, count: outputs)
                alone.multiplyRepacked(type, packed, outputs: 0..<outputs, rows: 1, y: &single, ldy: outputs)
                #expect(single == Array(y[r * outputs..<(r + 1) * outputs]), "\(type) row \(r) alone")
            }
        }
    }

    /// Each layout keeps the file's bit widths: a decode step reads no more than
    /// the file's bytes, but for the K-quants' 6-bit scales and minima stored a
    /// byte each (32 bytes more per eight super-blocks of Q4_K and Q5_K).
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q4_K, .q5_0, .q5_1, .q5_K, .q6_K, .q8_0])
    func repackedLayoutsKeepTheFilesWidth(_ type: GGMLType) {
        let (outputs, inputs) = (16, 512)
        let file = outputs * type.byteCount(elements: inputs), extra = type == .q4_K || type == .q5_K ? 32 * (outputs / 8) * (inputs / 256) : 0
        #expect(Repacked.bytes(type, inputs: inputs, outputs: outputs) == file + extra, "\(type)")
    }

    /// Every instruction-set variant this CPU can run gives the AVX2 variant's
    /// bits, on every repacked layout, for tiles of eight and four rows and a tail;
    /// the VNNI code runs on any AVX2 CPU with vpdpbusd emulated. Three groups
    /// of eight outputs, whole and split at each group, so that AVX-512's
    /// groups in pairs meet an odd group at either end of a range; and one row.
    @Test func everyInstructionSetGivesTheSameBits() throws {
        let (outputs, inputs, rows) = (24, 512, 13)
        let x = Self.activations(rows: rows, inputs: inputs)
        let buffers = [Q8Activations.Grouping.blocks, .superBlocks].map {
            UnsafeMutableRawPointer.allocate(byteCount: Q8Activations.bytes(rows: rows, inputs: inputs, grouping: $0), alignment: 64)
        }
        defer { buffers.forEach { $0.deallocate() }; InstructionSet.use(.best) }
        let activations = [Q8Activations(x, rows: rows, inputs: inputs, grouping: .blocks, buffer: buffers[0]),
                           Q8Activations(x, rows: rows, inputs: inputs, grouping: .superBlocks, buffer: buffers[1])]
        let runnable = InstructionSet.allCases.filter(\.isSupported)
        #expect(runnable.contains(.avx2) && runnable.contains(.emulatedVNNI) && runnable.contains(.best))
        print("instruction sets this CPU runs: \(runnable.map(\.name)); not: \(InstructionSet.allCases.filter { !$0.isSupported }.map(\.name))")
        for type in [GGMLType.q4_0, .q4_1, .q4_K, .q5_0, .q5_1, .q5_K, .q6_K, .q8_0] {
            let source = Self.randomBlocks(type, outputs: outputs, inputs: inputs)
            try source.withUnsafeBytes { raw in
                let packed = Repacked.repack(type, raw.baseAddress!, outputs: outputs, inputs: inputs)
                defer { packed.deallocate() }
                var results: [InstructionSet: [Float]] = [:]
                let a = activations.first { $0.grouping == Q8Activations.grouping(forRepacked: type) }!
                for set in runnable {
                    #expect(InstructionSet.use(set))
                    var y = [Float](repeating: 0, count: rows * outputs)
                    a.multiplyRepacked(type, packed, outputs: 0..<outputs, rows: rows, y: &y, ldy: outputs)
                    results[set] = y
                    for split in [8, 16] {
                        var parts = [Float](repeating: 0, count: rows * outputs)
                        a.multiplyRepacked(type, packed, outputs: 0..<split, rows: rows, y: &parts, ldy: outputs)
                        a.multiplyRepacked(type, packed, outputs: split..<outputs, rows: rows, y: &parts, ldy: outputs)
                        #expect(parts.map(\.bitPattern) == y.map(\.bitPattern), "\(type): \(set.name) split at output \(split)")
                    }
                    var decode = [Float](repeating: 0, count: outputs)  // one row: AVX-512 streams a group at a time
                    a.multiplyRepacked(type, packed, outputs: 0..<outputs, rows: 1, y: &decode, ldy: outputs)
                    #expect(decode.map(\.bitPattern) == y[0..<outputs].map(\.bitPattern), "\(type): \(set.name) one row")
                }
                let reference = results[.avx2] ?? [], finite = reference.filter(\.isFinite).count
                #expect(finite == reference.count, "\(type): the test's blocks give finite results")
                for set in runnable {
                    let bits = (results[set] ?? []).map(\.bitPattern), expected = reference.map(\.bitPattern)
                    #expect(bits == expected, "\(type): \(set.name) differs from avx2")
                }
            }
        }
        #expect(!InstructionSet.allCases.filter { !$0.isSupported }.contains { InstructionSet.use($0) }, "a set the CPU lacks is refused")
    }
}
