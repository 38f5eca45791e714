import Foundation
import GGUF
import Testing
import Tokenizer

/// Token ids recorded from llama.cpp on the same vocabulary files
/// (`Tests/Fixtures/tokenizer/*.json`: {"model", "cases": [{"text", "ids"}]}).
/// The SmolLM2 file must always run (CI fetches the model); the others run
/// when `scripts/fetch-vocabs` has put their vocabulary in `models/vocab/`.
@Suite struct GoldenTests {
    struct Fixture: Decodable {
        var model: String
        var add_special: Bool?
        var parse_special: Bool?
        var cases: [Case]
    }

    struct Case: Decodable {
        var text: String
        var ids: [TokenID]
        var add_special: Bool?
        var parse_special: Bool?
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
        var matched = 0
        for c in fixture.cases {
            let addSpecial = c.add_special ?? fixture.add_special
            let ids = tokenizer.encode(c.text, addBOS: addSpecial,
                                       parseSpecial: c.parse_special ?? fixture.parse_special ?? false)
            if ids == c.ids {
                matched += 1
            } else {
                Issue.record("\(stem): \(c.text.debugDescription.prefix(200))\n  llama.cpp: \(c.ids)\n  wafer:     \(ids)")
            }
        }
        print("GoldenTests: \(stem): \(matched)/\(fixture.cases.count) cases match llama.cpp")
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
