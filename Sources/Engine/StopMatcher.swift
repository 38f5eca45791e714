/// Finds OpenAI `stop` strings in a stream of text deltas. Text that might be
/// the start of a stop string is held back until the next deltas show it is
/// not; on a match, the text before the stop string is released and the stop
/// string itself never is.
///
/// Matching is by Unicode scalar (code point), as OpenAI and vLLM match on
/// Python strings: a delta may end in the middle of a grapheme cluster, and a
/// stop string must not need a whole cluster to line up.
public struct StopMatcher: Sendable {
    public struct Output: Sendable, Equatable {
        /// Safe to show the client now.
        public var text: String
        /// The stop string that ended generation, if one did.
        public var stop: String?
        public var isStopped: Bool { stop != nil }
        public init(text: String, stop: String? = nil) {
            self.text = text
            self.stop = stop
        }
    }

    private let stops: [[Unicode.Scalar]]
    private let stopStrings: [String]
    /// Text received but not yet released: always shorter than the longest stop string.
    private var held: [Unicode.Scalar] = []
    public private(set) var stopped: String?

    /// Empty stop strings are ignored (they would match before any text).
    public init(stops: [String]) {
        stopStrings = stops.filter { !$0.isEmpty }
        self.stops = stopStrings.map { Array($0.unicodeScalars) }
    }

    public mutating func feed(_ delta: String) -> Output {
        guard stopped == nil else { return Output(text: "", stop: stopped) }
        guard !stops.isEmpty else { return Output(text: delta) }
        held.append(contentsOf: delta.unicodeScalars)

        // The earliest match wins; the held text cannot contain a whole stop
        // string (it would have matched already), so only a match ending in
        // the new delta can be found, but scanning from 0 keeps this simple.
        for start in held.indices {
            for (s, stop) in stops.enumerated() where matches(stop, at: start) {
                stopped = stopStrings[s]
                let text = Self.string(held[..<start])
                held.removeAll()
                return Output(text: text, stop: stopped)
            }
        }
        // Hold back the longest tail that is still the beginning of some stop string.
        let keepFrom = held.indices.first { start in
            stops.contains { Self.isPrefix(held[start...], of: $0) }
        } ?? held.count
        let text = Self.string(held[..<keepFrom])
        held.removeFirst(keepFrom)
        return Output(text: text)
    }

    /// The held-back text, at the end of generation (no stop string came).
    public mutating func finish() -> String {
        let text = Self.string(held[...])
        held.removeAll()
        return text
    }

    private func matches(_ stop: [Unicode.Scalar], at start: Int) -> Bool {
        held.count - start >= stop.count && held[start..<(start + stop.count)].elementsEqual(stop)
    }

    private static func isPrefix(_ tail: ArraySlice<Unicode.Scalar>, of stop: [Unicode.Scalar]) -> Bool {
        tail.count < stop.count && stop.starts(with: tail)
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }
}
