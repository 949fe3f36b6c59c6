import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

// Word vectors from unlabeled text: word2vec's skip-gram with negative sampling (Mikolov et al.
// 2013), the cheapest pretraining there is: a pass over IMDb's 75,000 training and unlabeled
// reviews takes about a minute on one core, where the word language model (`train wordlm`) needs
// hours. Its vectors start a classifier's embedding (`train sentiment --init-embedding`).
//
// word2vec's recipe throughout: frequent words subsampled, a window of random size up to
// `window` on each side, negatives drawn from the unigram distribution to the power 0.75, a
// learning rate falling linearly to 1/10,000 of its start, input vectors uniform in
// +-0.5/dim and output vectors zero. One thread and a seeded generator, so a run is
// reproducible to the bit (word2vec's own threads race on the weights).

public struct WordVectorRunConfig {
    public var out: String
    public var dim = 64
    /// Context words on each side, at most (each position draws its window size in 1...window).
    public var window = 5
    public var negatives = 5
    public var epochs = 5
    /// Words seen fewer times are left out of the text (and of the vectors).
    public var minCount = 5
    /// word2vec's subsampling threshold `t` (0: off): a word of frequency f is kept with
    /// probability (sqrt(f / t) + 1) t / f.
    public var subsample = 1e-4
    public var learningRate: Float = 0.025
    public var seed: UInt64 = 1
    public var observer = RunObserver.silent
    public init(out: String) { self.out = out }

    /// The first problem with these settings, or nil.
    public func problem() -> String? {
        guard (1...4096).contains(dim) else { return "--dim must be 1...4096, not \(dim)" }
        guard (1...100).contains(window) else { return "--window must be 1...100, not \(window)" }
        guard (0...100).contains(negatives) else { return "--negatives must be 0...100, not \(negatives)" }
        guard (1...1000).contains(epochs) else { return "--epochs must be 1...1000, not \(epochs)" }
        guard minCount >= 1 else { return "--min-count must be 1 or more, not \(minCount)" }
        guard subsample.isFinite, subsample >= 0 else { return "--subsample must be 0 or more, not \(subsample)" }
        guard learningRate.isFinite, learningRate > 0, learningRate <= 10 else { return "--lr must be in (0, 10], not \(learningRate)" }
        return nil
    }
}

public struct WordVectorRunResult {
    public var words: Int
    /// Tokens of the kept words in one pass, before subsampling.
    public var tokens: Int
    public var seconds: Double
    public var interrupted: Bool
}

public enum WordVectorRun {
    /// The words seen at least `minCount` times, in the vocabulary's order (descending count,
    /// ties by first occurrence).
    static func vocabulary(_ texts: [String], minCount: Int) -> (words: [[UInt8]], counts: [Int]) {
        let kept = Vocabulary.rankedCounts(texts).filter { $0.count >= minCount }
        return (kept.map(\.token), kept.map(\.count))
    }

    /// Trains on `texts` (each a review; context never crosses reviews) and returns the input
    /// vectors, `words.count x dim`.
    public static func train(_ cfg: WordVectorRunConfig, texts: [String]) throws(SwiftRNNError)
        -> (vectors: WordVectors, result: WordVectorRunResult) {
        if let p = cfg.problem() { throw .init(.invalidArgument, p) }
        let start = monotonicSeconds()
        let (words, counts) = vocabulary(texts, minCount: cfg.minCount)
        guard words.count >= 2 else {
            throw .init(.invalidArgument, "fewer than 2 words occur \(cfg.minCount) times or more (--min-count); nothing to learn")
        }
        let n = words.count, d = cfg.dim
        // Two tables of n x d floats: at most 1 GiB each, so that a --dim typo is an error, not
        // a host out of memory.
        guard n <= Int(Int32.max), n.multipliedReportingOverflow(by: d).partialValue <= 1 << 28 else {
            throw .init(.invalidArgument, "\(n) words x \(d) numbers is too large (at most 2^28 per table: lower --dim or raise --min-count)")
        }
        var index: [[UInt8]: Int32] = [:]
        index.reserveCapacity(n)
        for (i, w) in words.enumerated() { index[w] = Int32(i) }
        let ids: [[Int32]] = texts.map { t in
            var r: [Int32] = []
            Tokenizer.forEachToken(t) { if let i = index[Array($0)] { r.append(i) } }
            return r
        }
        let total = counts.reduce(0, +)

        // Keep probabilities (subsampling) and the negative-sampling table (unigram^0.75).
        let keep: [Float] = counts.map { c in
            guard cfg.subsample > 0 else { return 1 }
            let tf = cfg.subsample * Double(total)
            return Float(min(1, ((Double(c) / tf).squareRoot() + 1) * tf / Double(c)))
        }
        let tableSize = 1 << 22
        var table = [Int32](repeating: 0, count: tableSize)
        let powers = counts.map { pow(Double($0), 0.75) }
        let norm = powers.reduce(0, +)
        var w = 0, cumulative = powers[0] / norm
        for i in 0..<tableSize {
            table[i] = Int32(w)
            if Double(i + 1) / Double(tableSize) > cumulative && w < n - 1 { w += 1; cumulative += powers[w] / norm }
        }

        func uniform(_ r: inout RandomSource) -> Float { Float(r.next() >> 40) / Float(1 << 24) }
        var rng = RandomSource(seed: cfg.seed)
        var input = FloatBuffer(count: n * d)
        for i in 0..<(n * d) { input[i] = (uniform(&rng) - 0.5) / Float(d) }
        var output = FloatBuffer(count: n * d)
        var scratch = FloatBuffer(count: d)
        let inSpan = input.mutableSpan(), outSpan = output.mutableSpan(), e = scratch.mutableSpan()

        let planned = Double(total) * Double(cfg.epochs)
        var processed = 0.0, lastReport = 0, interrupted = false
        var targets = [Int32](repeating: 0, count: cfg.negatives + 1)
        var kept: [Int32] = []
        epochs: for epoch in 0..<cfg.epochs {
            var order = Array(ids.indices)
            var orderRng = RandomSource(seed: cfg.seed &* 1_000_003 &+ UInt64(epoch))
            shuffle(&order, &orderRng)
            var done = 0
            for r in order {
                let review = ids[r]
                processed += Double(review.count); done += review.count
                kept.removeAll(keepingCapacity: true)
                for t in review where keep[Int(t)] >= 1 || uniform(&rng) < keep[Int(t)] { kept.append(t) }
                let lr = cfg.learningRate * Float(max(1e-4, 1 - processed / (planned + 1)))
                for (p, center) in kept.enumerated() {
                    let b = Int(rng.next() % UInt64(cfg.window)) + 1
                    for c in max(0, p - b)...min(kept.count - 1, p + b) where c != p {
                        // word2vec's skip-gram: the context word's input vector predicts the
                        // center word (and not the negatives) through the output vectors.
                        targets[0] = center
                        for j in 1..<targets.count {
                            var neg = table[Int(rng.next() >> 42)]
                            if neg == center { neg = table[Int(rng.next() >> 42)] }
                            targets[j] = neg
                        }
                        let ctx = Int(kept[c])
                        Kernels.skipGramUpdate(inSpan.slice(ctx * d, d), outputs: outSpan, targets: targets,
                                               learningRate: lr, scratch: e)
                    }
                }
                if done - lastReport >= 200_000 || done == total {
                    lastReport = done
                    let s = monotonicSeconds() - start
                    cfg.observer.report(.progress(label: "epoch \(epoch + 1)/\(cfg.epochs)", done: done, total: total,
                                                  metrics: "lr \(fmt(Double(lr), 5))", unitsPerSecond: processed / max(s, 1e-9),
                                                  unit: "tokens"))
                    if cfg.observer.shouldStop() { interrupted = true; break epochs }
                }
            }
            lastReport = 0
            cfg.observer.report(.summary("epoch \(epoch + 1): \(total) tokens, \(clock(monotonicSeconds() - start))"))
        }
        var vectors = WordVectors(dim: d, vectors: [:], fileWords: n)
        vectors.vectors.reserveCapacity(n)
        for (i, word) in words.enumerated() { vectors.vectors[word] = Array(input[(i * d)..<((i + 1) * d)]) }
        vectors.order = words
        return (vectors, WordVectorRunResult(words: n, tokens: total, seconds: monotonicSeconds() - start, interrupted: interrupted))
    }

    /// Trains and writes the vectors to `cfg.out` in word2vec's text format (unless stopped).
    public static func run(_ cfg: WordVectorRunConfig, texts: [String]) throws(SwiftRNNError) -> WordVectorRunResult {
        let (v, r) = try train(cfg, texts: texts)
        if !r.interrupted { try v.save(to: cfg.out) }
        return r
    }
}
