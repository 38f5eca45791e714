/// Greedy choice over one row of logits; full sampling lives in the Engine.
public enum Greedy {
    /// Index of the largest logit; the lowest index wins a tie.
    public static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return Int32(best)
    }
}
