import Testing
import GGUF
import Runtime

/// Native precision keeps keys and values in F16 by default (`--kv f32`
/// opts out): a sequence is still independent of its neighbours, and its
/// logits stay close to an F32 cache's.
@Suite(.enabled(if: modelTestsEnabled, "model-level tests run in release builds (swift test -c release)"))
struct HalfCacheTests {
    static let singleCache = try! Model(file: SharedModels.file, precision: .native, kvPrecision: .f32)

    func run(_ model: Model, _ prompt: [Int32], steps: Int, neighbour: [Int32]? = nil) throws -> [[Float]] {
        let cache = model.makeCache(capacity: prompt.count + steps + 1)
        let other = model.makeCache(capacity: 200)
        var batch = [SequenceInput(cache: cache, tokens: prompt, kind: .prompt)]
        if let neighbour { batch.insert(SequenceInput(cache: other, tokens: neighbour, kind: .prompt), at: 0) }
        let v = model.config.vocabularySize
        var logits = Array(try model.forward(batch).suffix(v))
        var all = [logits]
        for step in 0..<steps {
            var inputs = [SequenceInput(cache: cache, tokens: [Greedy.argmax(logits)], kind: .generated)]
            if neighbour != nil { inputs.append(SequenceInput(cache: other, tokens: [Int32(100 + step)], kind: .generated)) }
            logits = Array(try model.forward(inputs).prefix(v))
            all.append(logits)
        }
        return all
    }

    @Test func halfCacheIsTheNativeDefaultBatchInvariantAndCloseToF32() throws {
        let half = SharedModels.native
        #expect(half.makeCache(capacity: 10).precision == .f16)
        #expect(SharedModels.full.makeCache(capacity: 10).precision == .f32)
        let prompt = LlamaCppGoldens.shared.cases[6].prompt_ids
        let alone = try run(half, prompt, steps: 5)
        let together = try run(half, prompt, steps: 5, neighbour: LlamaCppGoldens.shared.cases[1].prompt_ids)
        #expect(alone == together, "an F16 cache still gives a sequence the same logits whatever shares its steps")
        let single = try run(Self.singleCache, prompt, steps: 0)[0]
        let worst = zip(alone[0], single).map { abs($0 - $1) }.max() ?? .infinity
        // llama.cpp's own logits sit up to 1.1 from the float64 reference on these prompts (Tests/Fixtures/greedy).
        #expect(worst < 1.5, "F16 keys and values move the logits by \(worst)")
        #expect(worst > 0, "the two caches are really different precisions")
        #expect(Greedy.argmax(alone[0]) == Greedy.argmax(single))
    }
}
