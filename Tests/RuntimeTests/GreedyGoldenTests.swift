import Foundation
import Testing
import Runtime
import Jinja
import Tokenizer

/// Greedy decoding of the default model against llama.cpp and against an
/// independent float64 forward pass.
@Suite(.enabled(if: modelTestsEnabled, "model-level tests run in release builds (swift test -c release)"))
struct GreedyGoldenTests {
    /// llama.cpp does not agree with itself at near-ties, so tokens must match
    /// up to the first step where its top-2 log-probability margin is below
    /// this; there any token whose logit is within this of its top one is
    /// also accepted (a tie can be three or four ways), and comparison stops.
    static let llamaCppTieMargin = 0.5

    @Test(arguments: Precision.allCases)
    func agreesWithLlamaCpp(_ precision: Precision) throws {
        let goldens = LlamaCppGoldens.shared
        #expect(goldens.cases.count >= 8)
        for golden in goldens.cases {
            let ours = try greedy(SharedModels.model(precision), prompt: golden.prompt_ids, steps: golden.steps.count)
            var compared = 0
            for (i, step) in golden.steps.enumerated() {
                let margin = step.top2[0][1] - step.top2[1][1]
                if margin < Self.llamaCppTieMargin {
                    let top = step.top16_logits[0][1]
                    let accepted = step.top16_logits.filter { top - $0[1] < Self.llamaCppTieMargin }.map { Int32($0[0]) }
                    #expect(accepted.contains(ours.ids[i]), "\(golden.name) step \(i): \(ours.ids[i]) not in \(accepted)")
                    // Same choice as llama.cpp: the contexts still agree, so keep comparing.
                    if ours.ids[i] != step.id { break }
                } else {
                    #expect(ours.ids[i] == step.id, "\(golden.name) step \(i): ours \(ours.ids[i]), llama.cpp \(step.id) (margin \(margin))")
                    if ours.ids[i] != step.id { break }
                }
                compared += 1
            }
            print("\(precision) \(golden.name): \(compared) of \(golden.steps.count) tokens identical before taking a near-tie the other way")
        }
    }

    /// Our template and tokenizer turn each prompt into llama.cpp's ids.
    @Test func promptsTokenizeLikeLlamaCpp() throws {
        let tokenizer = SharedModels.tokenizer
        for golden in LlamaCppGoldens.shared.cases {
            var text = golden.prompt
            if let messages = golden.messages {
                text = try SharedModels.template.render(
                    messages: messages.map { ChatMessage(role: $0.role, content: $0.content) }, addGenerationPrompt: true,
                    bosToken: tokenizer.bosID.map(tokenizer.tokenText) ?? "", eosToken: tokenizer.eosID.map(tokenizer.tokenText) ?? "")
                #expect(text == golden.prompt, "\(golden.name): template renders differently from jinja2")
            }
            #expect(tokenizer.encode(text) == golden.prompt_ids, "\(golden.name)")
        }
    }

    /// Full precision against float64: logits within 1e-3 and the same tokens
    /// wherever the reference's margin exceeds 0.01.
    @Test func fullPrecisionMatchesFloat64() throws {
        let goldens = Float64Goldens.shared
        let vocabulary = SharedModels.full.config.vocabularySize
        #expect(Float64Goldens.firstLogits.count == goldens.cases.count * vocabulary)
        for (c, golden) in goldens.cases.enumerated() {
            let ours = try greedy(SharedModels.full, prompt: golden.prompt_ids, steps: golden.steps.count)
            var worst: Float = 0
            for v in 0..<vocabulary {
                worst = max(worst, abs(ours.logits[0][v] - Float64Goldens.firstLogits[c * vocabulary + v]))
            }
            #expect(worst < 1e-3, "\(golden.name): first-step logits differ by up to \(worst)")
            for (i, step) in golden.steps.enumerated() {
                for pair in step.top16 {
                    let diff = abs(Double(ours.logits[i][Int(pair[0])]) - pair[1])
                    #expect(diff < 1e-3, "\(golden.name) step \(i) token \(Int(pair[0])): logit off by \(diff)")
                }
                if step.margin <= 0.01 {
                    let accepted = [Int32(step.top16[0][0]), Int32(step.top16[1][0])]
                    #expect(accepted.contains(ours.ids[i]))
                    break
                }
                #expect(ours.ids[i] == step.id, "\(golden.name) step \(i): ours \(ours.ids[i]), float64 \(step.id)")
                if ours.ids[i] != step.id { break }
            }
        }
    }

    @Test func contextOverflowIsAnError() throws {
        let model = SharedModels.native
        let cache = model.makeCache(capacity: 4)
        #expect(throws: ModelError.contextFull(capacity: 4)) {
            try model.forward([SequenceInput(cache: cache, tokens: [1, 2, 3, 4, 5], kind: .prompt)])
        }
        #expect(throws: ModelError.self) { try model.forward([SequenceInput(cache: cache, tokens: [-1], kind: .prompt)]) }
        #expect(throws: ModelError.self) { try model.forward([SequenceInput(cache: cache, tokens: [], kind: .prompt)]) }
        #expect(cache.length == 0, "a rejected step leaves the cache as it was")
    }
}
