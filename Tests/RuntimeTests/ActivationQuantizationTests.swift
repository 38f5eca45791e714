import Foundation
import Testing
@testable import Runtime

/// The vectorised 8-bit activation quantisers against the rule written out
/// in scalar Swift: per block of 32 (or super-block of 256), d = amax/127,
/// q = x·(127/amax) rounded half to even; sum = d·Σq per block (Σq per block
/// of 16 for super-blocks).
@Suite struct ActivationQuantizationTests {
    static func reference(_ block: ArraySlice<Float>) -> (q: [Int8], d: Float, sum: Float) {
        let amax = block.reduce(Float(0)) { max($0, abs($1)) }
        let d = amax / 127, inverse: Float = amax > 0 ? 127 / amax : 0
        let q = block.map { Int8(($0 * inverse).rounded(.toNearestOrEven)) }
        return (q, d, d * Float(q.reduce(0) { $0 + Int($1) }))
    }

    /// Pseudo-random values of a spread of magnitudes (up to `spread`).
    static func values(_ count: Int, seed: UInt64, spread: Int) -> [Float] {
        var state = seed
        return (0..<count).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) - 0.5) * Float(1 + i % spread)
        }
    }

    /// `body` with `x` quantised in `grouping` (in a buffer that lives as long as the call).
    static func quantized(_ x: [Float], rows: Int, inputs: Int, _ grouping: Q8Activations.Grouping, _ body: (Q8Activations) -> Void) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Q8Activations.bytes(rows: rows, inputs: inputs, grouping: grouping),
                                                      alignment: 64)
        defer { buffer.deallocate() }
        x.withUnsafeBufferPointer { body(Q8Activations($0.baseAddress!, rows: rows, inputs: inputs, grouping: grouping, buffer: buffer)) }
    }

    @Test func matchesTheScalarRuleBitForBit() {
        let rows = 3, inputs = 128, blocks = inputs / 32
        var x = Self.values(rows * inputs, seed: 99, spread: 5)
        // A block with exact halves after scaling (amax 127: q = x), one all zero, one negative-only.
        for j in 0..<32 { x[32 + j] = j == 0 ? 127 : Float(j) - 15.5 }
        for j in 0..<32 { x[64 + j] = 0 }
        for j in 0..<32 { x[inputs + j] = -Float(j + 1) / 3 }
        Self.quantized(x, rows: rows, inputs: inputs, .blocks) { a in
            for b in 0..<rows * blocks {
                let expected = Self.reference(x[b * 32..<(b + 1) * 32])
                #expect((0..<32).map { a.q[b * 32 + $0] } == expected.q, "block \(b)")
                #expect(a.scale[b].bitPattern == expected.d.bitPattern && a.sum[b].bitPattern == expected.sum.bitPattern, "block \(b)")
            }
            // The halves block rounded to even: -14.5 → -14, -13.5 → -14, 0.5 → 0, 1.5 → 2.
            #expect(a.q[32 + 1] == -14 && a.q[32 + 2] == -14 && a.q[32 + 16] == 0 && a.q[32 + 17] == 2)
        }
    }

    @Test func superBlocksFollowTheSameRuleWithIntegerSums() {
        let rows = 2, inputs = 512, supers = inputs / 256
        var x = Self.values(rows * inputs, seed: 7, spread: 9)
        for j in 0..<256 { x[256 + j] = 0 }                   // an all-zero super-block
        for j in 0..<256 { x[inputs + j] = -Float(j + 1) / 7 } // a negative-only one
        Self.quantized(x, rows: rows, inputs: inputs, .superBlocks) { a in
            for s in 0..<rows * supers {
                let expected = Self.reference(x[s * 256..<(s + 1) * 256])
                #expect((0..<256).map { a.q[s * 256 + $0] } == expected.q, "super-block \(s)")
                #expect(a.scale[s].bitPattern == expected.d.bitPattern, "super-block \(s)")
                let sums = a.integerSums + s * Q8Activations.integerSumsPerSuperBlock
                for h in 0..<16 {
                    let sum = (0..<16).reduce(0) { $0 + Int(expected.q[16 * h + $1]) }
                    #expect(Int(sums[h]) == sum, "super-block \(s) values \(16 * h)...")
                }
                for b in 0..<8 {
                    let sum = (0..<32).reduce(0) { $0 + Int(expected.q[32 * b + $1]) }
                    #expect(Int(sums[16 + b]) == sum, "super-block \(s) values \(32 * b)...")
                }
            }
            #expect(a.scale(row: 1, input: 300) == a.scale[3] && a.scale[1] == 0)
        }
    }
}
