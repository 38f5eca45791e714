import Foundation
import Testing
import GGUF
import Runtime
import Jinja
import Tokenizer

/// Model-level tests need a release build: a debug build runs the forward pass
/// hundreds of times slower.
#if DEBUG
let modelTestsEnabled = false
#else
let modelTestsEnabled = true
#endif

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let defaultModelPath = packageRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
let greedyFixtures = packageRoot.appendingPathComponent("Tests/Fixtures/greedy")

/// The default model in both precisions, loaded once for all tests.
enum SharedModels {
    static let file = try! GGUFFile(path: defaultModelPath)
    static let full = try! Model(file: file, precision: .full)
    static let native = try! Model(file: file, precision: .native)
    static let tokenizer = try! Tokenizer(gguf: file)
    static let template = try! ChatTemplate(source: file.metadata["tokenizer.chat_template"]!.string!)

    static func model(_ precision: Precision) -> Model { precision == .full ? full : native }
}

/// llama.cpp's greedy run (Tests/Fixtures/greedy/README.md says how it was made).
struct LlamaCppGoldens: Decodable {
    struct Step: Decodable { let id: Int32; let top2: [[Double]]; let top16_logits: [[Double]] }
    struct Message: Decodable { let role: String; let content: String }
    struct Case: Decodable {
        let name: String
        let kind: String            // "text" or "chat"
        let prompt: String          // for chat: the template rendered by jinja2
        let messages: [Message]?
        let prompt_ids: [Int32]
        let generated_ids: [Int32]
        let steps: [Step]
    }
    let model: String               // the GGUF file's name in models/
    let cases: [Case]

    static let shared: LlamaCppGoldens = load("llamacpp.json")
}

/// The float64 reference forward pass's greedy run (reference/forward_f64.py).
struct Float64Goldens: Decodable {
    struct Step: Decodable { let id: Int32; let margin: Double; let top16: [[Double]] }
    struct Case: Decodable {
        let name: String; let prompt_ids: [Int32]; let generated_ids: [Int32]; let steps: [Step]
        /// Every `first_logits_sample_stride`-th logit of the first step (the other models' files).
        let first_logits_sample: [Float]?
    }
    let cases: [Case]
    let first_logits_sample_stride: Int?

    static let shared: Float64Goldens = load("f64.json")

    /// Full logits of each case's first generated step, [case][vocab].
    static let firstLogits: [Float] = {
        let data = try! Data(contentsOf: greedyFixtures.appendingPathComponent("f64-first-logits.bin"))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }()
}

func load<T: Decodable>(_ name: String) -> T {
    try! JSONDecoder().decode(T.self, from: Data(contentsOf: greedyFixtures.appendingPathComponent(name)))
}

/// Greedy decoding with our runtime: the logits of every step and the chosen ids.
func greedy(_ model: Model, prompt: [Int32], steps: Int) throws -> (ids: [Int32], logits: [[Float]]) {
    let cache = model.makeCache(capacity: prompt.count + steps)
    var logits = try model.forward([SequenceInput(cache: cache, tokens: prompt, kind: .prompt)])
    var ids: [Int32] = [], all: [[Float]] = []
    for step in 0..<steps {
        let next = Greedy.argmax(logits)
        ids.append(next)
        all.append(logits)
        if step + 1 < steps { logits = try model.forward([SequenceInput(cache: cache, tokens: [next], kind: .generated)]) }
    }
    return (ids, all)
}

/// Greedy decoding against llama.cpp's run. llama.cpp does not agree with
/// itself at near-ties, so tokens must match up to the first step where its
/// top-2 log-probability margin is below `tieMargin`; there any token whose
/// logit is within `tieMargin` of its top one is also accepted (a tie can be
/// three or four ways), and comparison stops. Returns the tokens compared per case.
@discardableResult
func expectAgreement(_ model: Model, with goldens: LlamaCppGoldens, label: String, tieMargin: Double = 0.5) throws -> [Int] {
    var counts: [Int] = []
    for golden in goldens.cases {
        let ours = try greedy(model, prompt: golden.prompt_ids, steps: golden.steps.count)
        var compared = 0
        for (i, step) in golden.steps.enumerated() {
            let margin = step.top2[0][1] - step.top2[1][1]
            if margin < tieMargin {
                let top = step.top16_logits[0][1]
                let accepted = step.top16_logits.filter { top - $0[1] < tieMargin }.map { Int32($0[0]) }
                #expect(accepted.contains(ours.ids[i]), "\(label) \(golden.name) step \(i): \(ours.ids[i]) not in \(accepted)")
                // Same choice as llama.cpp: the contexts still agree, so keep comparing.
                if ours.ids[i] != step.id { break }
            } else {
                #expect(ours.ids[i] == step.id, "\(label) \(golden.name) step \(i): ours \(ours.ids[i]), llama.cpp \(step.id) (margin \(margin))")
                if ours.ids[i] != step.id { break }
            }
            compared += 1
        }
        print("\(label) \(golden.name): \(compared) of \(golden.steps.count) tokens identical before taking a near-tie the other way")
        counts.append(compared)
    }
    return counts
}

/// Full precision against the float64 reference: every step's top-16 logits
/// within `tolerance`, `firstLogits(case, logits)` on the first step's logits, and the
/// same tokens wherever the reference's margin exceeds 0.01.
func expectAgreement(_ model: Model, with goldens: Float64Goldens, label: String, tolerance: Double = 1e-3,
                     firstLogits: (Int, [Float]) -> Void) throws {
    for (c, golden) in goldens.cases.enumerated() {
        let ours = try greedy(model, prompt: golden.prompt_ids, steps: golden.steps.count)
        firstLogits(c, ours.logits[0])
        for (i, step) in golden.steps.enumerated() {
            for pair in step.top16 {
                let diff = abs(Double(ours.logits[i][Int(pair[0])]) - pair[1])
                #expect(diff < tolerance, "\(label) \(golden.name) step \(i) token \(Int(pair[0])): logit off by \(diff)")
            }
            if step.margin <= 0.01 {
                let accepted = [Int32(step.top16[0][0]), Int32(step.top16[1][0])]
                #expect(accepted.contains(ours.ids[i]))
                break
            }
            #expect(ours.ids[i] == step.id, "\(label) \(golden.name) step \(i): ours \(ours.ids[i]), float64 \(step.id)")
            if ours.ids[i] != step.id { break }
        }
    }
}

/// Our template (chat cases) and tokenizer turn each prompt into llama.cpp's ids.
func expectPromptIDs(_ goldens: LlamaCppGoldens, tokenizer: Tokenizer, template: ChatTemplate?) throws {
    for golden in goldens.cases {
        var text = golden.prompt
        if let messages = golden.messages {
            let template = try #require(template, "\(golden.name): a chat case for a model without a template")
            text = try template.render(
                messages: messages.map { ChatMessage(role: $0.role, content: $0.content) }, addGenerationPrompt: true,
                bosToken: tokenizer.bosID.map(tokenizer.tokenText) ?? "", eosToken: tokenizer.eosID.map(tokenizer.tokenText) ?? "")
            #expect(text == golden.prompt, "\(golden.name): template renders differently from jinja2")
        }
        #expect(tokenizer.encode(text) == golden.prompt_ids, "\(golden.name)")
    }
}
