import Foundation
import Testing
import Runtime
import Jinja
import Tokenizer

/// Greedy decoding of the default model against llama.cpp and against an
/// independent float64 forward pass.
@Suite(.enabled(if: modelTestsEnabled, "model-level tests run in release builds (swift test -c release)"))
struct GreedyGoldenTests {
    @Test(arguments: Precision.allCases)
    func agreesWithLlamaCpp(_ precision: Precision) throws {
        #expect(LlamaCppGoldens.shared.cases.count >= 8)
        try expectAgreement(SharedModels.model(precision), with: LlamaCppGoldens.shared, label: "\(precision)")
    }

    /// Our template and tokenizer turn each prompt into llama.cpp's ids.
    @Test func promptsTokenizeLikeLlamaCpp() throws {
        try expectPromptIDs(LlamaCppGoldens.shared, tokenizer: SharedModels.tokenizer, template: SharedModels.template)
    }

    /// Full precision against float64: logits within 1e-3 and the same tokens
    /// wherever the reference's margin exceeds 0.01.
    @Test func fullPrecisionMatchesFloat64() throws {
        let goldens = Float64Goldens.shared
        let vocabulary = SharedModels.full.config.vocabularySize
        #expect(Float64Goldens.firstLogits.count == goldens.cases.count * vocabulary)
        try expectAgreement(SharedModels.full, with: goldens, label: "full") { c, logits in
            var worst: Float = 0
            for v in 0..<vocabulary { worst = max(worst, abs(logits[v] - Float64Goldens.firstLogits[c * vocabulary + v])) }
            #expect(worst < 1e-3, "\(goldens.cases[c].name): first-step logits differ by up to \(worst)")
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
