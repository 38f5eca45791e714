import Foundation
import Engine
import Runtime
import Tokenizer

/// `wafer generate --prompt TEXT | --chat TEXT`: streams a completion to stdout.
enum GenerateCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        let a = try Arguments(args, valued: ["model", "prompt", "chat", "max-tokens", "temperature", "seed", "precision"])
        let text: String, chat: Bool
        switch (a.string("prompt"), a.string("chat")) {
        case (let p?, nil): (text, chat) = (p, false)
        case (nil, let c?): (text, chat) = (c, true)
        default: throw UsageError("give exactly one of --prompt TEXT or --chat TEXT")
        }
        let maxTokens = try a.int("max-tokens", default: 128)
        let temperature = try a.double("temperature", default: 0)
        guard maxTokens >= 0 else { throw UsageError("--max-tokens must not be negative") }
        let parameters = SamplingParameters(temperature: Float(temperature), seed: UInt64(truncatingIfNeeded: try a.int("seed", default: 0)))
        do { try parameters.validate(vocabularySize: Int.max) } catch { throw UsageError(error.description) }
        var sampler = Sampler(parameters: parameters, fallbackSeed: 0)

        let session = try ModelSession(path: a.string("model") ?? defaultModelPath(), precision: try parsePrecision(a.string("precision")))
        let prompt = try session.promptTokens(text: text, chat: chat)
        let model = session.model
        let capacity = min(model.config.contextLength, prompt.count + maxTokens)
        guard prompt.count < capacity || maxTokens == 0 else {
            throw UsageError("prompt of \(prompt.count) tokens fills the model's context of \(model.config.contextLength)")
        }
        let cache = model.makeCache(capacity: capacity)
        var detokenizer = StreamingDetokenizer(tokenizer: session.tokenizer)
        let out = FileHandle.standardOutput
        var history = TokenHistory(prompt: prompt)
        var logits = try model.forward([SequenceInput(cache: cache, tokens: prompt, kind: .prompt)])
        for step in 0..<maxTokens {
            let next = logits.withUnsafeBufferPointer { sampler.sample(logits: $0, history: history) }.id
            history.append(next)
            if session.tokenizer.endOfTurnIDs.contains(next) { break }
            out.write(Data(detokenizer.append(next).utf8))
            if step + 1 < maxTokens, cache.length < cache.capacity {
                logits = try model.forward([SequenceInput(cache: cache, tokens: [next], kind: .generated)])
            } else { break }
        }
        out.write(Data((detokenizer.flush() + "\n").utf8))
        return 0
    }
}
