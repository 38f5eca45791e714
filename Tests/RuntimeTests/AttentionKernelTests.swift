import CKernels
import Foundation
import Testing

/// The grouped-query attention kernel: a head computed with its group gives
/// the same bits as computed alone (the engine deals heads out either way),
/// and both match a float64 softmax-weighted sum.
@Suite struct AttentionKernelTests {
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
    }

    static func reference(query: ArraySlice<Float>, keys: [Float], values: [Float], visible: Int, hd: Int, scale: Float) -> [Double] {
        let q = Array(query)
        let scores = (0..<visible).map { j in (0..<hd).reduce(0.0) { $0 + Double(q[$1]) * Double(keys[j * hd + $1]) } * Double(scale) }
        let top = scores.max()!
        let weights = scores.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        return (0..<hd).map { d in (0..<visible).reduce(0.0) { $0 + weights[$1] * Double(values[$1 * hd + d]) } / total }
    }

    @Test(arguments: [1, 7, 8, 65, 200], [64, 72])
    func groupedHeadsMatchSingleHeadsAndFloat64(visible: Int, hd: Int) {
        let heads = 3, scale = 1 / Float(hd).squareRoot()
        let queries = Self.random(heads * hd, seed: 1).map { $0 * 3 }
        // Values held in F16 exactly, so both precisions see the same numbers.
        let keys = Self.random(visible * hd, seed: 2).map { Float(Float16($0)) }
        let values = Self.random(visible * hd, seed: 3).map { Float(Float16($0)) }
        let halfKeys = keys.map { Float16($0).bitPattern }, halfValues = values.map { Float16($0).bitPattern }
        var scratch = [Float](repeating: 0, count: heads * (visible + hd + 1))
        for half in [false, true] {
            var grouped = [Float](repeating: 0, count: heads * hd), alone = grouped
            func attend(_ first: Int, _ count: Int, into out: inout [Float]) {
                queries.withUnsafeBufferPointer { q in
                    out.withUnsafeMutableBufferPointer { o in
                        if half {
                            wafer_attend_group_f16(q.baseAddress! + first * hd, halfKeys, halfValues, Int32(visible), Int32(hd),
                                                   Int32(count), scale, &scratch, o.baseAddress! + first * hd)
                        } else {
                            wafer_attend_group_f32(q.baseAddress! + first * hd, keys, values, Int32(visible), Int32(hd),
                                                   Int32(count), scale, &scratch, o.baseAddress! + first * hd)
                        }
                    }
                }
            }
            attend(0, heads, into: &grouped)
            for h in 0..<heads { attend(h, 1, into: &alone) }
            #expect(grouped.map(\.bitPattern) == alone.map(\.bitPattern), "visible \(visible), hd \(hd), f16 \(half)")
            for h in 0..<heads {
                let expected = Self.reference(query: queries[h * hd..<(h + 1) * hd], keys: keys, values: values, visible: visible, hd: hd, scale: scale)
                let worst = (0..<hd).map { abs(Double(grouped[h * hd + $0]) - expected[$0]) }.max()!
                #expect(worst < 1e-5, "head \(h): off by \(worst)")
            }
        }
    }
}
