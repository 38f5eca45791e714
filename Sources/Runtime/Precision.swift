/// How weights are kept in memory.
public enum Precision: String, Sendable, CaseIterable {
    /// Dequantised to F32 once at load, as the wafer runs models unquantised.
    case full
    /// The file's quantised blocks kept; rows are dequantised in panels as they are used.
    case native
}
