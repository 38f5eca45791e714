import CKernels

/// The instruction set the integer kernels run with: each is compiled in,
/// and the best the CPU has is chosen at first use (cpuid), never assumed at
/// build time. The integer sums are exact, so every variant gives the same bits.
public enum InstructionSet: Int32, CaseIterable, Sendable {
    case avx2 = 0, avxVNNI = 1, avx512VNNI = 2
    /// The VNNI variants' code with vpdpbusd emulated on AVX2: lets a machine
    /// without VNNI test that code. Never chosen; not a CPU feature.
    case emulatedVNNI = 3

    /// The sets a CPU may have.
    public static let hardware: [InstructionSet] = [.avx2, .avxVNNI, .avx512VNNI]

    public static var current: InstructionSet { InstructionSet(rawValue: wafer_isa()) ?? .avx2 }

    /// The set chosen at start-up: the best this CPU has.
    static var best: InstructionSet { InstructionSet(rawValue: wafer_best_isa()) ?? .avx2 }

    public var isSupported: Bool { wafer_isa_supported(rawValue) != 0 }

    public var name: String { String(cString: wafer_isa_name(rawValue)) }

    /// Runs the kernels with this set from now on, if the CPU has it (tests and `wafer bench --kernels` run every variant).
    @discardableResult
    public static func use(_ set: InstructionSet) -> Bool { wafer_set_isa(set.rawValue) != 0 }
}
