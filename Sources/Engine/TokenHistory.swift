/// The tokens a sequence has seen, as the penalties need them: the whole
/// prompt + generated run (repeat penalty looks at its tail) and how often
/// each token was generated (presence/frequency penalties look only there).
public struct TokenHistory: Sendable {
    public private(set) var prompt: [Int32]
    public private(set) var generated: [Int32] = []
    /// Times each token id occurs in `generated`.
    public private(set) var generatedCounts: [Int32: Int] = [:]

    public init(prompt: [Int32] = []) {
        self.prompt = prompt
    }

    public var count: Int { prompt.count + generated.count }

    public mutating func append(_ token: Int32) {
        generated.append(token)
        generatedCounts[token, default: 0] += 1
    }

    /// Token at `index` of prompt + generated, without joining the arrays.
    public subscript(index: Int) -> Int32 {
        index < prompt.count ? prompt[index] : generated[index - prompt.count]
    }
}
