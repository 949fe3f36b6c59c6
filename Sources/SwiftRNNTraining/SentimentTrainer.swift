import SwiftRNN

/// Training of the book's sentiment model: packed batches of reviews, BCE from logits, Adam,
/// optional clipping by global norm and dropout (on the embeddings and on the features fed to
/// the head), with the batch split into shards that run on separate threads and whose
/// gradients are summed (single-threaded BLAS inside each shard).
public struct SentimentTrainer {
    public struct Options {
        public var learningRate: Float
        public var threads: Int
        public var dropout: Float
        public var clipNorm: Float?
        public var seed: UInt64

        public init(learningRate: Float = 1e-3, threads: Int = 0, dropout: Float = 0, clipNorm: Float? = nil, seed: UInt64 = 1) {
            self.learningRate = learningRate; self.threads = threads; self.dropout = dropout
            self.clipNorm = clipNorm; self.seed = seed
        }
    }

    public var weights: ModelWeights
    public let config: ModelConfig
    public var options: Options
    public var adam: Adam
    private var shardGrads: [ModelWeights] = []

    public init(weights: ModelWeights, config: ModelConfig, options: Options) {
        self.weights = weights; self.config = config; self.options = options
        adam = Adam(for: weights, learningRate: options.learningRate)
    }

    /// Mean loss of a batch without dropout (evaluation, gradient checks).
    public func loss(weights w: ModelWeights, batch: [[Int32]], labels: [Float]) -> Double {
        var unused = w
        return Self.shardForward(weights: w, batch: batch, labels: labels, total: batch.count, dropout: 0,
                                 seed: 0, grads: &unused, backward: false).loss
    }

    /// Mean loss and its gradients (summed over shards), at the current weights.
    public mutating func lossAndGradients(batch: [[Int32]], labels: [Float], step: Int = 0) -> (loss: Double, grads: ModelWeights, logits: [Float]) {
        let shards = max(1, min(options.threads <= 0 ? Parallel.cores : options.threads, batch.count))
        if shardGrads.count != shards { shardGrads = Array(repeating: weights.zeros(), count: shards) }
        var losses = [Double](repeating: 0, count: shards)
        var logits = [Float](repeating: 0, count: batch.count)
        let w = weights, total = batch.count, dropout = options.dropout
        let seed = options.seed &* 0x9E37_79B9 &+ UInt64(step)
        shardGrads.withUnsafeMutableBufferPointer { gbuf in
            losses.withUnsafeMutableBufferPointer { lbuf in
            logits.withUnsafeMutableBufferPointer { zbuf in
                Parallel.forEach(count: shards, threads: shards) { s in
                    let lo = s * total / shards, hi = (s + 1) * total / shards
                    gbuf[s].setZero()
                    let r = Self.shardForward(weights: w, batch: Array(batch[lo..<hi]), labels: Array(labels[lo..<hi]),
                                              total: total, dropout: dropout, seed: seed &+ UInt64(s) &* 7919,
                                              grads: &gbuf[s], backward: true)
                    lbuf[s] = r.loss
                    for (k, z) in r.logits.enumerated() { zbuf[lo + k] = z }
                }
            }}
        }
        var grads = shardGrads[0]
        for s in 1..<shards { grads.add(shardGrads[s]) }
        return (losses.reduce(0, +), grads, logits)
    }

    /// One optimizer step. Returns the mean loss and the batch's logits (before the step).
    @discardableResult
    public mutating func step(batch: [[Int32]], labels: [Float]) -> (loss: Double, logits: [Float]) {
        var (loss, grads, logits) = lossAndGradients(batch: batch, labels: labels, step: adam.step)
        if let c = options.clipNorm { GradientClipping.clipGlobalNorm(&grads, maxNorm: c) }
        adam.update(&weights, grads: grads)
        return (loss, logits)
    }

    /// Forward (and backward) of one shard, through the model's own `forward`/`backward`; the
    /// loss returned is this shard's sum divided by `total` (the whole batch), so shard losses
    /// and gradients add up to the batch mean.
    static func shardForward(weights w: ModelWeights, batch: [[Int32]], labels: [Float], total: Int, dropout: Float,
                             seed: UInt64, grads: inout ModelWeights, backward: Bool) -> (loss: Double, logits: [Float]) {
        guard !batch.isEmpty else { return (0, []) }
        let tape = backward ? SentimentModel.Tape(for: w.rnn, dropout: dropout, seed: seed) : nil
        let logits = SentimentModel.forward(w, batch: batch, tape: tape)
        let (loss, dz) = Losses.binaryCrossEntropyWithLogits(logits, labels, normalizer: total)
        if let tape { SentimentModel.backward(w, tape: tape, dLogits: dz, grads: &grads) }
        return (loss, logits.array)
    }
}
