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
    private var shards = GradientShards()

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
        let w = weights, total = batch.count, dropout = options.dropout
        let seed = options.seed &* 0x9E37_79B9 &+ UInt64(step)
        let (grads, results) = shards.run(count: total, threads: options.threads, zerosLike: weights) { s, range, g in
            Self.shardForward(weights: w, batch: Array(batch[range]), labels: Array(labels[range]), total: total,
                              dropout: dropout, seed: seed &+ UInt64(s) &* 7919,
                              grads: &g, backward: true)
        }
        return (results.reduce(0) { $0 + $1.loss }, grads, results.flatMap(\.logits))
    }

    /// One optimizer step. Returns the mean loss and the batch's logits (before the step).
    @discardableResult
    public mutating func step(batch: [[Int32]], labels: [Float]) -> (loss: Double, logits: [Float]) {
        let (loss, grads, logits) = lossAndGradients(batch: batch, labels: labels, step: adam.step)
        adam.apply(grads, to: &weights, clipNorm: options.clipNorm)
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
