/// Limits which tokens one sequence may sample next (structured output): the
/// sampler masks the logits with it before choosing, and the engine tells it
/// each token taken. One instance per choice; used by the engine thread only.
public protocol TokenConstraint: AnyObject {
    /// Whether `token` may come next. Once the constrained text is complete,
    /// only `endOfTurn` tokens may.
    func allows(_ token: Int32, endOfTurn: Set<Int32>) -> Bool
    /// Sets the logit of every token not allowed now to -infinity.
    func mask(_ logits: UnsafeMutableBufferPointer<Float>, endOfTurn: Set<Int32>)
    /// The token sampled (one the mask allowed).
    func accept(_ token: Int32)
}
