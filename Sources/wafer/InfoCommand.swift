import GGUF
import Runtime

/// `wafer info [PATH]`: what a model file holds.
enum InfoCommand {
    static func run(_ args: ArraySlice<String>) throws -> Int32 {
        let a = try Arguments(args, valued: ["model"])
        let path = modelPath(a.positional.first ?? a.string("model"))
        let file = try GGUFFile(path: path)
        let config = try ModelConfig(file: file)
        print("file:          \(path) (GGUF v\(file.version), \(file.fileSize) bytes)")
        print("name:          \(file.metadata["general.name"]?.string ?? "-")")
        print("architecture:  \(config.architecture)")
        print("layers:        \(config.layerCount)")
        print("width:         \(config.embeddingLength) (feed-forward \(config.feedForwardLength))")
        print("heads:         \(config.headCount) query, \(config.kvHeadCount) key/value, \(config.headDimension) each")
        print("context:       \(config.contextLength) tokens")
        print("rope:          base \(config.ropeBases.map { "\($0)" }.joined(separator: " and ")), \(config.ropeDimension) dims, \(config.ropeStyle)")
        if let window = config.layers.compactMap(\.window).first {
            print("attention:     sliding window of \(window) in \(config.layers.filter { $0.window != nil }.count) of \(config.layerCount) layers")
        }
        print("vocabulary:    \(config.vocabularySize) tokens (\(file.metadata["tokenizer.ggml.model"]?.string ?? "?"), pre \(file.metadata["tokenizer.ggml.pre"]?.string ?? "default"))")
        let parameters = file.tensors.reduce(0) { $0 + $1.elementCount }
        print("parameters:    \(parameters)")
        var byType: [String: (count: Int, bytes: Int)] = [:]
        for t in file.tensors { byType[t.type.name, default: (0, 0)].count += 1; byType[t.type.name, default: (0, 0)].bytes += t.byteCount }
        print("tensor types:  " + byType.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value.count) (\($0.value.bytes) bytes)" }.joined(separator: ", "))
        if let template = file.metadata["tokenizer.chat_template"]?.string {
            print("chat template:\n\(template)")
        } else {
            print("chat template: none")
        }
        return 0
    }
}
