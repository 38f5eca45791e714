import Foundation
import GGUF
import Testing
import Tokenizer

/// Token ids recorded from llama.cpp (llama-cpp-python) on the same
/// vocabulary files, by `reference/make_llamacpp_goldens.py`. Each case of
/// `Tests/Fixtures/tokenizer/*.json` has `ids` (no BOS, special tokens
/// parsed), `ids_add_special` (BOS/EOS as the file says),
/// `ids_parse_special_false` and `detok` (llama_detokenize with special
/// tokens printed; `detok_hex` when that is not valid UTF-8).
/// The SmolLM2 file must always run (CI fetches the model); the others run
/// when `scripts/fetch-vocabs` has put their vocabulary in `models/vocab/`.
@Suite struct GoldenTests {
    struct Fixture: Decodable {
        var model: String
        var cases: [Case]
    }

    struct Case: Decodable {
        var text: String
        var ids: [TokenID]
        var ids_add_special: [TokenID]?
        var ids_parse_special_false: [TokenID]?
        var detok: String?
        var detok_hex: String?
    }

    static let fixtureNames: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Repo.tokenizerFixtures.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.sorted()
    }()

    @Test func smolLM2FixturePresent() {
        #expect(Self.fixtureNames.contains("smollm2.json"), "Tests/Fixtures/tokenizer/smollm2.json is missing")
    }

    @Test(arguments: fixtureNames)
    func matchesLlamaCpp(_ name: String) throws {
        let url = Repo.tokenizerFixtures.appendingPathComponent(name)
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let stem = String(name.dropLast(".json".count))
        guard let modelPath = Self.modelPath(for: fixture.model, stem: stem) else {
            if stem == "smollm2" {
                Issue.record("model for \(name) not found: run scripts/fetch-model")
            } else {
                print("GoldenTests: skipping \(name): vocabulary '\(fixture.model)' not fetched (run scripts/fetch-vocabs)")
            }
            return
        }
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: modelPath))
        var checks = 0, failures = 0
        func check(_ got: [TokenID], _ want: [TokenID]?, _ what: String, _ text: String) {
            guard let want else { return }
            checks += 1
            if got != want {
                failures += 1
                Issue.record("\(stem) \(what): \(text.debugDescription.prefix(200))\n  llama.cpp: \(want)\n  wafer:     \(got)")
            }
        }
        for c in fixture.cases {
            check(tokenizer.encode(c.text, addBOS: false, parseSpecial: true), c.ids, "ids", c.text)
            check(tokenizer.encode(c.text, parseSpecial: true), c.ids_add_special, "ids_add_special", c.text)
            check(tokenizer.encode(c.text, addBOS: false, parseSpecial: false), c.ids_parse_special_false,
                  "ids_parse_special_false", c.text)
            if let expected = c.detok_hex.map(Self.bytes(hex:)) ?? c.detok.map({ Array($0.utf8) }) {
                checks += 1
                let got = tokenizer.decode(c.ids, special: true)
                if got != String(decoding: expected, as: UTF8.self) {
                    failures += 1
                    Issue.record("\(stem) detok: \(c.ids)\n  llama.cpp: \(String(decoding: expected, as: UTF8.self).debugDescription)\n  wafer:     \(got.debugDescription)")
                }
            }
        }
        print("GoldenTests: \(stem): \(checks - failures)/\(checks) checks on \(fixture.cases.count) texts match llama.cpp")
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).compactMap {
            UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)
        }
    }

    /// `model` may be a path from the repository root, a file name in
    /// `models/` or `models/vocab/`; otherwise the fixture's name decides.
    static func modelPath(for model: String, stem: String) -> String? {
        let root = Repo.root
        var candidates = [model, "models/" + model, "models/vocab/" + model,
                          "models/vocab/" + model + ".gguf", "models/vocab/ggml-vocab-\(stem).gguf"]
            .map { root.appendingPathComponent($0).path }
        candidates.insert(model, at: 0)
        if stem == "smollm2" { candidates.append(Repo.defaultModel.path) }
        return candidates.first { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }
}
