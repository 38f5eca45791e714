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

    @Test func infoDescribesTheModel() throws {
        let r = try CLIErrorTests.run(["info"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("architecture:  llama"))
        #expect(r.stdout.contains("Q4_1"))
        #expect(r.stdout.contains("<|im_start|>"))
    }
}
