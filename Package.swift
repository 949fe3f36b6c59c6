// swift-tools-version:6.0
import PackageDescription

// libswiftrnn: an embeddable LSTM/GRU/RNN runtime.
//   CKernels          the SIMD kernels (C), one copy per instruction set, chosen at run time
//   SwiftRNN          the core: kernels over OpenBLAS, layers, tokenizer, model file, sampling
//   SwiftRNNTraining  backward passes, losses, optimizers, data readers
//   SwiftRNNABI       include/swiftrnn.h as a Clang module (the structs and statuses, by name)
//   CSwiftRNN         the C ABI (@_cdecl functions of include/swiftrnn.h) and nothing else
//   SwiftRNNCLI       the command-line tool (product swiftrnn-cli, installed as `swiftrnn`)
//
// `libswiftrnn.so` is the dynamic product `swiftrnn`; `make lib` links it with the Swift
// runtime inside (-static-stdlib), a version script and a soname.

let package = Package(
    name: "swiftrnn",
    products: [
        .library(name: "SwiftRNN", targets: ["SwiftRNN"]),
        .library(name: "swiftrnn", type: .dynamic, targets: ["CSwiftRNN"]),
        .executable(name: "swiftrnn-cli", targets: ["SwiftRNNCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS's header only. The library itself is loaded at run time (SwiftRNN's
        // Kernels/BLAS.swift) so that its kernels can be chosen before it initialises; that is why
        // there is no pkg-config name here: its `--libs` would link libopenblas into
        // libswiftrnn.so and have it initialise before any of our code runs.
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // The SIMD kernels in C, compiled once per instruction set and chosen at run time
        // (include/swiftrnn_kernels.h says why they are C).
        .target(name: "CKernels", exclude: ["kernels.inc", "kernels_matvec.inc"]),
        .target(name: "SwiftRNN", dependencies: ["COpenBLAS", "CKernels", "SwiftRNNABI"]),
        .target(name: "SwiftRNNTraining", dependencies: ["SwiftRNN"]),
        // include/swiftrnn.h imported as a module: CSwiftRNN reads the ABI's structs by field.
        .systemLibrary(name: "SwiftRNNABI", path: "Sources/SwiftRNNABI"),
        .target(name: "CSwiftRNN", dependencies: ["SwiftRNN", "SwiftRNNABI"], exclude: ["exports.map"]),
        .executableTarget(
            name: "SwiftRNNCLI",
            dependencies: [
                "SwiftRNN", "SwiftRNNTraining",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "SwiftRNNTests",
            dependencies: ["SwiftRNN", "SwiftRNNTraining", "CSwiftRNN", "CKernels", "SwiftRNNABI"],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v5]
)

// libFuzzer targets (docs/bad-input.md, `make fuzz`), only when SWIFTRNN_FUZZ is set: they
// must be built with `--sanitize=fuzzer`, and a plain build would fail to link them.
if Context.environment["SWIFTRNN_FUZZ"] != nil {
    for name in ["FuzzLoad", "FuzzScore", "FuzzSample", "FuzzState"] {
        package.targets.append(.executableTarget(name: name, dependencies: ["SwiftRNN", "CSwiftRNN"], path: "Fuzz/\(name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
