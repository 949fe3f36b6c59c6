import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

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
        /// Discriminative learning rates (ULMFiT): each layer group below the head learns
        /// `layerDecay` times slower than the one above it. The groups, top down: the head, each
        /// recurrent layer (last first), the embedding.
        public var layerDecay: Float = 1
        /// Gradual unfreezing: how many layer groups, from the top, train (nil: all). With 1
        /// (the head alone) the encoder runs forward only, as at inference.
        public var unfrozenGroups: Int? = nil

        public init(learningRate: Float = 1e-3, threads: Int = 0, dropout: Float = 0, clipNorm: Float? = nil, seed: UInt64 = 1) {
            self.learningRate = learningRate; self.threads = threads; self.dropout = dropout
            self.clipNorm = clipNorm; self.seed = seed
        }
    }

    /// The layer group of each parameter (`parameterPaths` order): 0 the head, 1 the last
    /// recurrent layer, ..., `layers` the first, `layers + 1` the embedding.
    static func layerGroups(_ w: ModelWeights) -> [Int] {
        let L = w.rnn.numLayers
        return w.parameterPaths.map { p in
            if p.name.hasPrefix("embedding.") { return L + 1 }
            if p.name.hasPrefix("head") { return 0 }
            for layer in 0..<L where p.name.hasSuffix("_l\(layer)") || p.name.hasSuffix("_l\(layer)_reverse") { return L - layer }
            return 0
        }
    }

    /// Each parameter's learning-rate scale under `options` (nil: all 1).
    var rates: [Float]? {
        guard options.layerDecay != 1 || options.unfrozenGroups != nil else { return nil }
        let unfrozen = options.unfrozenGroups ?? Int.max
        return Self.layerGroups(weights).map { g in g < unfrozen ? Float(pow(Double(options.layerDecay), -Double(g))) : 0 }
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
                                 seed: 0, grads: &unused, backward: false, unfrozen: nil).loss
    }

    /// Mean loss and its gradients (summed over shards), at the current weights.
    public mutating func lossAndGradients(batch: [[Int32]], labels: [Float], step: Int = 0) -> (loss: Double, grads: ModelWeights, logits: [Float]) {
        let w = weights, total = batch.count, dropout = options.dropout, unfrozen = options.unfrozenGroups
        let seed = options.seed &* 0x9E37_79B9 &+ UInt64(step)
        let (grads, results) = shards.run(count: total, threads: options.threads, zerosLike: weights) { s, range, g in
            Self.shardForward(weights: w, batch: Array(batch[range]), labels: Array(labels[range]), total: total,
                              dropout: dropout, seed: seed &+ UInt64(s) &* 7919,
                              grads: &g, backward: true, unfrozen: unfrozen)
        }
        return (results.reduce(0) { $0 + $1.loss }, grads, results.flatMap(\.logits))
    }

    /// One optimizer step. Returns the mean loss and the batch's logits (before the step).
    @discardableResult
    public mutating func step(batch: [[Int32]], labels: [Float]) -> (loss: Double, logits: [Float]) {
        let (loss, grads, logits) = lossAndGradients(batch: batch, labels: labels, step: adam.step)
        adam.apply(grads, to: &weights, clipNorm: options.clipNorm, rates: rates)
        return (loss, logits)
    }

    /// Forward (and backward) of one shard, through the model's own `forward`/`backward`; the
    /// loss returned is this shard's sum divided by `total` (the whole batch), so shard losses
    /// and gradients add up to the batch mean. With `unfrozen` groups (see `Options`), the
    /// backward stops where training does: at the head, or before the embedding.
    static func shardForward(weights w: ModelWeights, batch: [[Int32]], labels: [Float], total: Int, dropout: Float,
                             seed: UInt64, grads: inout ModelWeights, backward: Bool,
                             unfrozen: Int?) -> (loss: Double, logits: [Float]) {
        guard !batch.isEmpty else { return (0, []) }
        let tape = backward ? SentimentModel.Tape(for: w.rnn, dropout: dropout, seed: seed) : nil
        let headOnly = unfrozen.map { $0 <= 1 } ?? false
        let logits = headOnly && tape != nil
            ? SentimentModel.forwardFrozenEncoder(w, batch: batch, tape: tape!)
            : SentimentModel.forward(w, batch: batch, tape: tape)
        let (loss, dz) = Losses.binaryCrossEntropyWithLogits(logits, labels, normalizer: total)
        if let tape {
            if headOnly {
                SentimentModel.backwardHead(w, tape: tape, dLogits: dz, grads: &grads)
            } else {
                SentimentModel.backward(w, tape: tape, dLogits: dz, grads: &grads,
                                        embedding: unfrozen.map { $0 > w.rnn.numLayers + 1 } ?? true)
            }
        }
        return (loss, logits.array)
    }
}
