import Foundation
import Testing
import GGUF
@testable import Runtime
import Jinja
import Tokenizer

/// The real models `scripts/fetch-model --all` fetches, against llama.cpp's
/// greedy runs (`llamacpp-NAME.json`) in native precision and against the
/// float64 reference (`f64-NAME.json`) in full precision. Gemma 3's goldens
/// include a prompt longer than its 512-position sliding window.
@Suite(.enabled(if: modelTestsEnabled, "model-level tests run in release builds (swift test -c release)"))
struct RealModelTests {
    static let names = ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "gemma3-270m"]
    /// The 1.5B model in F32 would take 6 GB and minutes; its family is checked on the 0.5B.
    static let float64Names = ["qwen2.5-coder-0.5b", "gemma3-270m"]

    @Test(arguments: names)
    func nativeAgreesWithLlamaCpp(_ name: String) throws {
        let goldens: LlamaCppGoldens = load("llamacpp-\(name).json")
        #expect(goldens.cases.count >= 4)
        let counts = try expectAgreement(RealModels.native(name), with: goldens, label: "\(name) native")
        // Near-ties aside, most of each run must be compared, not just a first token.
        #expect(counts.reduce(0, +) >= goldens.cases.count * 4, "\(name): only \(counts) tokens compared")
    }

    /// The same greedy runs on every other instruction set this CPU runs: the
    /// VNNI variants' code (with vpdpbusd emulated where the CPU lacks it) over
    /// every layout these models use (Q4_K, Q5_0, Q6_K, Q8_0), not just a few blocks.
    @Test(arguments: names)
    func everyInstructionSetAgreesWithLlamaCpp(_ name: String) throws {
        let goldens: LlamaCppGoldens = load("llamacpp-\(name).json")
        let model = try RealModels.native(name)
        defer { InstructionSet.use(.best) }
        let others = InstructionSet.allCases.filter { $0.isSupported && $0 != .best }
        #expect(others.contains(.emulatedVNNI))
        for set in others {
            #expect(InstructionSet.use(set))
            try expectAgreement(model, with: goldens, label: "\(name) native, \(set.name)")
        }
    }

    @Test(arguments: float64Names)
    func fullPrecisionMatchesFloat64(_ name: String) throws {
        let goldens: Float64Goldens = load("f64-\(name).json")
        let stride = try #require(goldens.first_logits_sample_stride)
        try expectAgreement(RealModels.full(name), with: goldens, label: "\(name) full") { c, logits in
            let sample = goldens.cases[c].first_logits_sample ?? []
            #expect(sample.count * stride >= logits.count - stride)
            let worst = sample.enumerated().map { abs(logits[$0.offset * stride] - $0.element) }.max() ?? .infinity
            #expect(worst < 1e-3, "\(name) \(goldens.cases[c].name): first-step logits differ by up to \(worst)")
        }
    }

    @Test(arguments: names)
    func promptsTokenizeLikeLlamaCpp(_ name: String) throws {
        let file = try RealModels.file(name)
        let template = try file.metadata["tokenizer.chat_template"]?.string.map { try ChatTemplate(source: $0) }
        try expectPromptIDs(load("llamacpp-\(name).json"), tokenizer: Tokenizer(gguf: file), template: template)
    }

    /// Gemma's windowed layers: a prompt past the window, in chunks and beside
    /// another sequence, gives the logits it gives alone, bit for bit.
    @Test(arguments: Precision.allCases)
    func slidingWindowIsBatchInvariant(_ precision: Precision) throws {
        let model = try precision == .full ? RealModels.full("gemma3-270m") : RealModels.native("gemma3-270m")
        #expect(model.config.layers.contains { $0.window == 512 })
        let goldens: LlamaCppGoldens = load("llamacpp-gemma3-270m.json")
        let long = try #require(goldens.cases.first { $0.prompt_ids.count > 600 }).prompt_ids
        let v = model.config.vocabularySize
        let alone = try greedy(model, prompt: long, steps: 3).logits

        let target = model.makeCache(capacity: long.count + 3), other = model.makeCache(capacity: 64)
        _ = try model.forward([SequenceInput(cache: target, tokens: Array(long[..<300]), kind: .prompt),
                               SequenceInput(cache: other, tokens: goldens.cases[0].prompt_ids, kind: .prompt)])
        let end = try model.forward([SequenceInput(cache: other, tokens: [42], kind: .generated),
                                     SequenceInput(cache: target, tokens: Array(long[300...]), kind: .prompt)])
        var ours = Array(end[v..<2 * v])
        #expect(ours == alone[0], "end-of-prompt logits differ when chunked beside another sequence")
        for step in 1..<3 {
            let both = try model.forward([SequenceInput(cache: target, tokens: [Greedy.argmax(ours)], kind: .generated),
                                          SequenceInput(cache: other, tokens: [Int32(43 + step)], kind: .generated)])
            ours = Array(both[0..<v])
            #expect(ours == alone[step], "decode step \(step) past the window differs beside another sequence")
        }
    }
}

/// The fetched models, each loaded once per precision for all tests.
enum RealModels {
    nonisolated(unsafe) private static var loaded: [String: Model] = [:]
    private static let lock = NSLock()

    static func file(_ name: String) throws -> GGUFFile {
        let goldens: LlamaCppGoldens = load("llamacpp-\(name).json")
        let path = packageRoot.appendingPathComponent("models/\(goldens.model)").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelMissing(description: "\(path) is missing: run scripts/fetch-model \(name)")
        }
        return try GGUFFile(path: path)
    }

    static func native(_ name: String) throws -> Model { try model(name, .native) }
    static func full(_ name: String) throws -> Model { try model(name, .full) }

    private static func model(_ name: String, _ precision: Precision) throws -> Model {
        lock.lock()
        defer { lock.unlock() }
        if let m = loaded["\(name) \(precision)"] { return m }
        let m = try Model(file: file(name), precision: precision)
        loaded["\(name) \(precision)"] = m
        return m
    }

    struct ModelMissing: Error, CustomStringConvertible { let description: String }
}
