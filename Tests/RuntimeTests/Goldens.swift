import Foundation
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
    let cases: [Case]

    static let shared: LlamaCppGoldens = load("llamacpp.json")
}

/// The float64 reference forward pass's greedy run (reference/forward_f64.py).
struct Float64Goldens: Decodable {
    struct Step: Decodable { let id: Int32; let margin: Double; let top16: [[Double]] }
    struct Case: Decodable { let name: String; let prompt_ids: [Int32]; let generated_ids: [Int32]; let steps: [Step] }
    let cases: [Case]

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
