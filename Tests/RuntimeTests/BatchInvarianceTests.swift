import Testing
import Runtime

/// A sequence's logits are bit-identical whatever else shares its steps and
/// however its prompt is chunked (DESIGN.md, batch invariance).
@Suite(.enabled(if: modelTestsEnabled, "model-level tests run in release builds (swift test -c release)"))
struct BatchInvarianceTests {
    static let prompts: [[Int32]] = LlamaCppGoldens.shared.cases.map(\.prompt_ids)

    /// Runs `prompt` alone in one chunk, then `steps` greedy tokens; returns every step's logits.
    func alone(_ model: Model, _ prompt: [Int32], steps: Int) throws -> [[Float]] {
        let cache = model.makeCache(capacity: prompt.count + steps)
        var logits = try model.forward([SequenceInput(cache: cache, tokens: prompt, kind: .prompt)])
        var all = [logits]
        for _ in 0..<steps {
            logits = try model.forward([SequenceInput(cache: cache, tokens: [Greedy.argmax(logits)], kind: .generated)])
            all.append(logits)
        }
        return all
    }

    @Test(arguments: Precision.allCases)
    func sequenceIgnoresItsNeighbours(_ precision: Precision) throws {
        let model = SharedModels.model(precision)
        let v = model.config.vocabularySize
        let target = Self.prompts[6]  // 69 tokens
        let reference = try alone(model, target, steps: 6)

        // The same prompt in chunks of 10, 25 and 34 tokens, sharing steps with other
        // prompts (one joining mid-way) and with other sequences' decode rows.
        let a = model.makeCache(capacity: 80), b = model.makeCache(capacity: 80), c = model.makeCache(capacity: 80)
        _ = try model.forward([SequenceInput(cache: b, tokens: Self.prompts[4], kind: .prompt),
                               SequenceInput(cache: a, tokens: Array(target[0..<10]), kind: .prompt)])
        _ = try model.forward([SequenceInput(cache: c, tokens: Array(Self.prompts[1].prefix(7)), kind: .prompt),
                               SequenceInput(cache: a, tokens: Array(target[10..<35]), kind: .prompt),
                               SequenceInput(cache: b, tokens: [42], kind: .generated)])
        var logits = try model.forward([SequenceInput(cache: b, tokens: [43], kind: .generated),
                                        SequenceInput(cache: c, tokens: Array(Self.prompts[1].dropFirst(7)), kind: .prompt),
                                        SequenceInput(cache: a, tokens: Array(target[35...]), kind: .prompt)])
        var ours = Array(logits[2 * v..<3 * v])
        #expect(ours == reference[0], "end-of-prompt logits differ from the sequence run alone")

        // Decode steps: alone for one step, then with two neighbours in varying order.
        for step in 1...6 {
            let input = SequenceInput(cache: a, tokens: [Greedy.argmax(ours)], kind: .generated)
            if step == 1 {
                ours = try model.forward([input])
            } else {
                let others = [SequenceInput(cache: b, tokens: [Int32(100 + step)], kind: .generated),
                              SequenceInput(cache: c, tokens: [Int32(200 + step)], kind: .generated)]
                let position = step % 3
                var batch = others
                batch.insert(input, at: position)
                logits = try model.forward(batch)
                ours = Array(logits[position * v..<(position + 1) * v])
            }
            #expect(ours == reference[step], "decode step \(step) differs from the sequence run alone")
        }
    }

    /// Decode after 300 cached positions, alone and beside a neighbour (the
    /// attention scratch grows with the context): the same logits.
    @Test(arguments: Precision.allCases)
    func longContextDecodeIgnoresItsNeighbours(_ precision: Precision) throws {
        let model = SharedModels.model(precision)
        let v = model.config.vocabularySize
        let prompt = Array((Self.prompts.flatMap { $0 } + Self.prompts.flatMap { $0 }).prefix(300))
        try #require(prompt.count == 300)
        let lone = model.makeCache(capacity: 310), paired = model.makeCache(capacity: 310), other = model.makeCache(capacity: 310)
        var a = try model.forward([SequenceInput(cache: lone, tokens: prompt, kind: .prompt)])
        var b = try model.forward([SequenceInput(cache: paired, tokens: prompt, kind: .prompt)])
        _ = try model.forward([SequenceInput(cache: other, tokens: Self.prompts[2], kind: .prompt)])
        for step in 0..<4 {
            let token = Greedy.argmax(a)
            a = try model.forward([SequenceInput(cache: lone, tokens: [token], kind: .generated)])
            let both = try model.forward([SequenceInput(cache: other, tokens: [Int32(300 + step)], kind: .generated),
                                          SequenceInput(cache: paired, tokens: [token], kind: .generated)])
            b = Array(both[v..<2 * v])
            #expect(a == b, "step \(step) after 300 positions differs with a neighbour")
        }
    }
}
