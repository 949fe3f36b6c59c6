import SwiftRNN

/// The shell both trainers share: a batch split into shards that run on separate threads
/// (single-threaded BLAS inside each), each with its own gradient buffers, summed in shard
/// order afterwards (so the result does not depend on thread timing); then clipping and one
/// Adam step. A trainer supplies only its shard's forward and backward.
public struct GradientShards {
    private var grads: [ModelWeights] = []

    public init() {}

    /// Runs `shard(index, range, &grads)` for `shards(count, threads)` contiguous ranges of
    /// `0..<count` on as many threads; returns the summed gradients and each shard's result.
    public mutating func run<R>(count: Int, threads: Int, zerosLike weights: ModelWeights,
                                _ shard: (Int, Range<Int>, inout ModelWeights) -> R) -> (grads: ModelWeights, results: [R]) {
        let n = max(1, min(threads <= 0 ? Parallel.cores : threads, count))
        if grads.count != n { grads = Array(repeating: weights.zeros(), count: n) }
        var results = [R?](repeating: nil, count: n)
        grads.withUnsafeMutableBufferPointer { g in
            results.withUnsafeMutableBufferPointer { r in
                Parallel.forEach(count: n, threads: n) { s in
                    g[s].setZero()
                    r[s] = shard(s, (s * count / n)..<((s + 1) * count / n), &g[s])
                }
            }
        }
        var sum = grads[0]
        for s in 1..<n { sum.add(grads[s]) }
        return (sum, results.map { $0! })
    }
}

extension Adam {
    /// Clips `grads` by global norm (when `clipNorm` is set) and takes one step (`rates` as in
    /// `update`; frozen parameters have zero gradients, so they do not count in the norm).
    public mutating func apply(_ grads: ModelWeights, to weights: inout ModelWeights, clipNorm: Float?, rates: [Float]? = nil) {
        var g = grads
        if let c = clipNorm { GradientClipping.clipGlobalNorm(&g, maxNorm: c) }
        update(&weights, grads: g, rates: rates)
    }
}
