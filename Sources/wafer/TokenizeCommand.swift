import GGUF
import Tokenizer

/// `wafer tokenize TEXT`: the ids and pieces the model's tokenizer makes of a text.
enum TokenizeCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        let a = try Arguments(args, valued: ["model"], flags: ["no-bos", "no-special", "ids"])
        guard a.positional.count == 1 else { throw UsageError("usage: wafer tokenize [--model PATH] [--no-bos] [--no-special] [--ids] TEXT") }
        let tokenizer = try Tokenizer(gguf: try GGUFFile(path: modelPath(a.string("model"))))
        let ids = tokenizer.encode(a.positional[0], addBOS: a.has("no-bos") ? false : nil, parseSpecial: !a.has("no-special"))
        if a.has("ids") {
            print(ids.map(String.init).joined(separator: " "))
        } else {
            for id in ids { print("\(id)\t\(tokenizer.tokenText(id).debugDescription)") }
        }
        return 0
    }
}
