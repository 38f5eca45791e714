import Testing
import Engine

@Suite struct StopMatcherTests {
    /// Feeds the deltas and returns what was emitted per delta, the stop hit, and the final flush.
    func run(_ stops: [String], _ deltas: [String]) -> (emitted: [String], stop: String?, rest: String) {
        var matcher = StopMatcher(stops: stops)
        var emitted: [String] = []
        for delta in deltas {
            let out = matcher.feed(delta)
            emitted.append(out.text)
            if let stop = out.stop { return (emitted, stop, matcher.finish()) }
        }
        return (emitted, nil, matcher.finish())
    }

    @Test func noStopsPassesThrough() {
        let r = run([], ["Hello", " world"])
        #expect(r.emitted == ["Hello", " world"] && r.stop == nil && r.rest == "")
    }

    @Test func stopInsideOneDelta() {
        let r = run(["END"], ["abcENDxyz"])
        #expect(r.emitted == ["abc"] && r.stop == "END")
    }

    @Test func stopSplitAcrossDeltas() {
        let r = run(["</answer>"], ["The answer is 4<", "/ans", "wer>", " more"])
        #expect(r.emitted == ["The answer is 4", "", ""] && r.stop == "</answer>" && r.rest == "")
    }

    @Test func falsePrefixIsReleased() {
        let r = run(["STOP"], ["a ST", "OCK", " b"])
        #expect(r.emitted == ["a ", "STOCK", " b"] && r.stop == nil)
        #expect(r.emitted.joined() == "a STOCK b")
    }

    @Test func heldTextFlushedAtFinish() {
        let r = run(["\n\nUser:"], ["Bye", "\n\n", "Us"])
        #expect(r.emitted == ["Bye", "", ""] && r.stop == nil && r.rest == "\n\nUs")
    }

    @Test func stopAtVeryStart() {
        let r = run(["###"], ["###", "text"])
        #expect(r.emitted == [""] && r.stop == "###")
    }

    @Test func earliestOfSeveralStopsWins() {
        let r = run(["world", "lo w"], ["hello world"])
        #expect(r.emitted == ["hel"] && r.stop == "lo w")
        // A stop that completes first ends generation, even if a longer one
        // starting earlier might have completed later (as streaming servers do).
        let s = run(["b", "abc"], ["zab", "c"])
        #expect(s.emitted == ["za"] && s.stop == "b")
    }

    @Test func overlappingPrefixes() {
        // "aab": after "aa" fails as "aaa", the text must be released only up
        // to where a new possible start ("aa") begins.
        let r = run(["aab"], ["a", "a", "a", "b"])
        #expect(r.emitted == ["", "", "a", ""] && r.stop == "aab")
        let s = run(["abcd", "bcx"], ["ab", "c", "x"])
        #expect(s.emitted == ["", "", "a"] && s.stop == "bcx")
    }

    @Test func unicode() {
        let r = run(["🛑", "日本"], ["Привет ", "🛑", "!"])
        #expect(r.emitted == ["Привет ", ""] && r.stop == "🛑")
        let s = run(["日本語"], ["これは日", "本", "です"])
        #expect(s.emitted == ["これは", "", "日本です"] && s.stop == nil)
        // Family emoji is several scalars joined by ZWJ; a delta may end mid-cluster.
        let family = "👨‍👩‍👧"
        let scalars = Array(family.unicodeScalars)
        let first = String(String.UnicodeScalarView(scalars[..<2])), second = String(String.UnicodeScalarView(scalars[2...]))
        let t = run([family], ["hi ", first, second])
        #expect(t.emitted == ["hi ", "", ""] && t.stop == family)
    }

    @Test func afterStopNothingMore() {
        var matcher = StopMatcher(stops: ["x"])
        #expect(matcher.feed("axb").stop == "x")
        #expect(matcher.feed("more") == StopMatcher.Output(text: "", stop: "x"))
        #expect(matcher.finish() == "")
    }

    @Test func emptyStopIgnored() {
        let r = run([""], ["abc"])
        #expect(r.emitted == ["abc"] && r.stop == nil)
    }
}
