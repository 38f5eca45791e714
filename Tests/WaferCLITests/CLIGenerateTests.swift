import Foundation
import Testing

#if DEBUG
private let releaseBuild = false
#else
private let releaseBuild = true
#endif

/// `wafer generate` end to end on the default model (release builds only).
@Suite(.enabled(if: releaseBuild, "model-level tests run in release builds (swift test -c release)"))
struct CLIGenerateTests {
    @Test func greedyChatAnswers() throws {
        for precision in ["native", "full"] {
            let r = try CLIErrorTests.run(["generate", "--chat", "What is 2+2?", "--max-tokens", "16",
                                           "--precision", precision])
            #expect(r.status == 0, "stderr: \(r.stderr)")
            #expect(r.stdout.contains("4"), "\(precision): \(r.stdout)")
        }
    }

    @Test func seededSamplingRepeats() throws {
        let args = ["generate", "--prompt", "Once upon a time", "--max-tokens", "16", "--temperature", "0.9", "--seed", "7"]
        let first = try CLIErrorTests.run(args), second = try CLIErrorTests.run(args)
        #expect(first.status == 0)
        #expect(first.stdout == second.stdout)
        #expect(!first.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    /// The decode loop allocates nothing in the model's forward pass, counted by
    /// the preloaded allocation counter (scripts/test builds it); before the pool
    /// took structs instead of closures, this counted 241 per step.
    @Test func decodeStepsAllocateNothing() throws {
        let counter = CLIErrorTests.binary.deletingLastPathComponent().appendingPathComponent("libWaferAllocationCounter.so")
        try #require(FileManager.default.fileExists(atPath: counter.path), "build it: swift build -c release --product WaferAllocationCounter")
        for kv in ["f16", "f32"] {
            let r = try CLIErrorTests.run(["bench", "--prompt-tokens", "8", "--decode-tokens", "40", "--repeat", "2", "--kv", kv, "--json"],
                                          environment: ["LD_PRELOAD": counter.path])
            #expect(r.status == 0, "stderr: \(r.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            let perStep = try #require(json?["decodeAllocationsPerToken"] as? Double, "the counter was not found: \(r.stdout)")
            #expect(perStep == 0, "\(kv) KV cache: \(perStep) allocations per decode step")
        }
        let plain = try CLIErrorTests.run(["bench", "--prompt-tokens", "8", "--decode-tokens", "4", "--repeat", "1", "--json"])
        #expect(plain.stdout.contains("decodeAllocationsPerToken") == false, "counted without the counter preloaded")
        // Each decode step is paired with a weight read; the share is a ratio of two positive rates.
        let figures = try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any]
        #expect((figures?["decodeShareOfBandwidthLimit"] as? Double ?? 0) > 0, "\(plain.stdout)")
    }

    /// Decode after cached positions, as llama-bench's depth.
    @Test func benchDecodesAtDepth() throws {
        let r = try CLIErrorTests.run(["bench", "--prompt-tokens", "8", "--decode-tokens", "4", "--repeat", "1", "--depth", "300", "--json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(json?["decodeDepth"] as? Int == 300)
        #expect((json?["decodeTokensPerSecond"] as? Double ?? 0) > 0)
        let negative = try CLIErrorTests.run(["bench", "--depth", "-1"])
        #expect(negative.status != 0 && negative.stderr.contains("--depth not negative"), "\(negative.stderr)")
        let past = try CLIErrorTests.run(["bench", "--depth", "10000000"])
        #expect(past.status != 0 && past.stderr.contains("depth and decode exceed the context"), "\(past.stderr)")
    }

    /// `--kernels` runs the variant named (the JSON says which ran); one the CPU lacks, or no such name, is refused.
    @Test func benchRunsTheKernelsNamed() throws {
        for name in ["avx2", "vnni-emulated"] {
            let r = try CLIErrorTests.run(["bench", "--prompt-tokens", "8", "--decode-tokens", "2", "--repeat", "1", "--kernels", name, "--json"])
            #expect(r.status == 0, "stderr: \(r.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            #expect(json?["kernels"] as? String == name, "\(r.stdout)")
        }
        let unknown = try CLIErrorTests.run(["bench", "--kernels", "sse2"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--kernels must be one of the variants this CPU runs: avx2"), "\(unknown.stderr)")
    }

    @Test func infoDescribesTheModel() throws {
        let r = try CLIErrorTests.run(["info"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("architecture:  llama"))
        #expect(r.stdout.contains("Q4_1"))
        #expect(r.stdout.contains("<|im_start|>"))
    }
}
