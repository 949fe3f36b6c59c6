import ArgumentParser
import SwiftRNN
import SwiftRNNTraining

/// Quick in-process timings (benchmarks/ compares against PyTorch and ONNX Runtime).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time generation or scoring in-process (see benchmarks/ for the comparisons).",
        subcommands: [BenchGenerate.self, BenchScore.self])
}

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate")
    @Argument var model: String
    @Option var prime = "The island"
    @Option var length = 2000
    @Option var repeats = 3
    @Option(parsing: .unconditional, help: "1 (the default), or 2 to split each step with a helper thread.", transform: integer) var threads = 1
    func validate() throws { try checkThreads(threads) }

    func run() throws {
        guard case let .charlm(m) = try loadModel(model) else { throw RuntimeError("\(model) is not a charlm model") }
        var best = Double.infinity
        for r in 0..<repeats {
            let t0 = monotonicSeconds()
            _ = try Generator.sample(model: m, prime: prime, count: length, parameters: .init(seed: UInt64(r), threads: threads))
            best = min(best, monotonicSeconds() - t0)
        }
        print("generate: \(length) chars in \(fmt(best * 1000, 2)) ms: \(fmt(Double(length) / best, 0)) chars/s (best of \(repeats), batch 1, threads \(threads), OpenBLAS core \(BLAS.coreDescription.core))")
    }
}

struct BenchScore: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "score")
    @Argument var model: String
    @Option(help: "aclImdb folder") var data: String
    @Option var split = "test"
    @Option var limit = 2000
    @Option(parsing: .unconditional, transform: integer) var threads = 1
    func validate() throws { try checkThreads(threads) }

    func run() throws {
        guard case let .sentiment(m) = try loadModel(model) else { throw RuntimeError("\(model) is not a sentiment model") }
        let reviews = try rethrowing { () throws(SwiftRNNError) in try IMDb.load(dir: data, split: split) }
        var rng = RandomSource(seed: 1)
        var texts = reviews.map(\.text)
        shuffle(&texts, &rng)
        texts = Array(texts.prefix(limit))
        let tokens = texts.reduce(0) { $0 + m.encode($1).count }
        let t0 = monotonicSeconds()
        _ = m.scoreBatch(texts, threads: threads)
        let s = monotonicSeconds() - t0
        print("score: \(texts.count) reviews (\(tokens) tokens) in \(fmt(s, 3)) s: \(fmt(Double(texts.count) / s, 0)) reviews/s, \(fmt(s / Double(tokens) * 1e6, 2)) us/token (threads \(threads), OpenBLAS core \(BLAS.coreDescription.core))")
    }
}
