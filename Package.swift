// swift-tools-version:6.0
import PackageDescription

// AVX2/FMA/F16C: without them every fused multiply-add and f16 conversion is a
// library call (4-5x slower kernels, see ../shared/FACTS.md).
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]

let package = Package(
    name: "Wafer",
    products: [
        .executable(name: "wafer", targets: ["wafer"]),
        // Preloaded under `wafer bench` to count the decode loop's heap allocations.
        .library(name: "WaferAllocationCounter", type: .dynamic, targets: ["AllocationCounter"]),
        // libFuzzer's targets, linked against libFuzzer's main by scripts/fuzz.
        .library(name: "WaferFuzz", type: .dynamic, targets: ["WaferFuzz"]),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // Integer decode kernels: AVX2 byte dot products have no Swift SIMD spelling.
        // No FP contraction, so a row's operations are the same in every code path.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-march=x86-64-v3", "-O3", "-ffp-contract=off"])]),
        .target(name: "AllocationCounter"),
        .target(name: "GGUF", swiftSettings: cpuFlags),
        // The chat templates' language: our Jinja subset, standalone.
        .target(name: "Jinja", swiftSettings: cpuFlags),
        .target(name: "Tokenizer", dependencies: ["GGUF"], swiftSettings: cpuFlags),
        .target(name: "Runtime", dependencies: ["GGUF", "CBLAS", "CKernels"], swiftSettings: cpuFlags),
        .target(name: "Engine", dependencies: ["Runtime", "Tokenizer"], swiftSettings: cpuFlags),
        .systemLibrary(name: "CMicroHTTPD", path: "Sources/CMicroHTTPD", pkgConfig: "libmicrohttpd",
                       providers: [.apt(["libmicrohttpd-dev"])]),
        .target(name: "OpenAI", dependencies: ["Engine"], swiftSettings: cpuFlags),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // The overflow route's client: an OpenAI-compatible upstream over libcurl.
        .target(name: "Upstream", dependencies: ["CCurl"], swiftSettings: cpuFlags),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "Metering", dependencies: ["OpenAI", "CSQLite", "CPostgres"], swiftSettings: cpuFlags),
        // One typed path from a request to the engine and back: prompts, validation, metering, responses.
        .target(name: "Serving", dependencies: ["Engine", "Jinja", "Tokenizer", "OpenAI", "Metering", "Upstream"], swiftSettings: cpuFlags),
        // The dashboard page and its figures (live, or embedded as a bill).
        .target(name: "Dashboard", dependencies: ["Metering"], swiftSettings: cpuFlags),
        // The HTTP door onto Serving.
        .target(name: "Server", dependencies: ["Serving", "Upstream", "OpenAI", "Metering", "Engine", "Dashboard", "CMicroHTTPD"],
                swiftSettings: cpuFlags),
        // The batch door: each line decoded once and run through Serving, as an HTTP request would be.
        .target(name: "Batch", dependencies: ["Serving", "Metering", "OpenAI"], swiftSettings: cpuFlags),
        .executableTarget(name: "wafer", dependencies: ["GGUF", "Jinja", "Tokenizer", "Runtime", "Engine", "OpenAI", "Metering", "Serving",
                                                        "Upstream", "Server", "Batch", "Dashboard"],
                          swiftSettings: cpuFlags),
        .target(name: "WaferFuzz", dependencies: ["GGUF", "Jinja", "Tokenizer", "Engine", "OpenAI", "Serving", "Batch"],
                swiftSettings: cpuFlags),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF"], swiftSettings: cpuFlags),
        .testTarget(name: "JinjaTests", dependencies: ["Jinja"], swiftSettings: cpuFlags),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "GGUF"], swiftSettings: cpuFlags),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Tokenizer", "Jinja", "GGUF"], swiftSettings: cpuFlags),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Runtime", "Tokenizer", "Jinja", "GGUF"], swiftSettings: cpuFlags),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Serving", "OpenAI", "Engine", "Metering"], swiftSettings: cpuFlags),
        .testTarget(name: "ServingTests", dependencies: ["Serving"], swiftSettings: cpuFlags),
        .testTarget(name: "BatchTests", dependencies: ["Batch", "Serving"], swiftSettings: cpuFlags),
        .testTarget(name: "MeteringTests", dependencies: ["Metering", "CSQLite"], swiftSettings: cpuFlags),
        // Runs the built `wafer` binary, so it depends on it to be built first.
        .testTarget(name: "WaferCLITests", dependencies: ["wafer"], swiftSettings: cpuFlags),
    ]
)
