import Foundation

/// A usage error: printed as one line, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// The options of one subcommand: `--name value`, `--name=value` and bare `--flag`.
struct Arguments {
    private(set) var positional: [String] = []
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []

    init(_ args: ArraySlice<String>, valued: Set<String>, flags allowedFlags: Set<String> = []) throws(UsageError) {
        var rest = args[...]
        while let arg = rest.popFirst() {
            guard arg.hasPrefix("--"), arg.count > 2 else { positional.append(arg); continue }
            var name = String(arg.dropFirst(2)), inline: String?
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if allowedFlags.contains(name), inline == nil {
                flags.insert(name)
            } else if valued.contains(name) {
                guard let value = inline ?? rest.popFirst() else { throw UsageError("--\(name) needs a value") }
                values[name, default: []].append(value)
            } else {
                throw UsageError("unknown option --\(name)")
            }
        }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }
    /// The option's value (the last, if given more than once).
    func string(_ name: String) -> String? { values[name]?.last }
    /// Every value of a repeatable option, in order.
    func strings(_ name: String) -> [String] { values[name] ?? [] }

    func int(_ name: String, default fallback: Int) throws(UsageError) -> Int {
        guard let text = string(name) else { return fallback }
        guard let v = Int(text) else { throw UsageError("--\(name) expects an integer, got '\(text)'") }
        return v
    }

    func double(_ name: String, default fallback: Double) throws(UsageError) -> Double {
        guard let text = string(name) else { return fallback }
        guard let v = Double(text), v.isFinite else { throw UsageError("--\(name) expects a number, got '\(text)'") }
        return v
    }
}

/// The models `scripts/fetch-model NAME` fetches, by the short names `--model` also takes.
let fetchedModels = [
    "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b": "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf",
    "qwen2.5-coder-1.5b": "Qwen2.5-Coder-1.5B-Instruct-Q4_K_M.gguf",
    "gemma3-270m": "gemma-3-270m-Q4_K_M.gguf",
]

/// `--model`: a path, or a short name of a fetched model; without it, the default model.
func modelPath(_ given: String?) -> String {
    guard let given else { return fetchedModelPath(fetchedModels["smollm2-135m"]!) }
    return fetchedModels[given].map(fetchedModelPath) ?? given
}

/// Where `scripts/fetch-model` puts a model, relative to the working
/// directory or, failing that, to the executable's checkout.
func fetchedModelPath(_ file: String) -> String {
    let relative = "models/" + file
    if FileManager.default.fileExists(atPath: relative) { return relative }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<5 {
        let candidate = dir.appendingPathComponent(relative).path
        if FileManager.default.fileExists(atPath: candidate) { return candidate }
        dir.deleteLastPathComponent()
    }
    return relative
}

func writeError(_ message: String) {
    FileHandle.standardError.write(Data("wafer: \(message)\n".utf8))
}
