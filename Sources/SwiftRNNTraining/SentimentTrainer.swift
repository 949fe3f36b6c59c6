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

    /// Forward (and backward) of one shard; the loss returned is this shard's sum divided by
    /// `total` (the whole batch), so shard losses and gradients add up to the batch mean.
    static func shardForward(weights w: ModelWeights, batch: [[Int32]], labels: [Float], total: Int, dropout: Float,
                             seed: UInt64, grads: inout ModelWeights, backward: Bool) -> (loss: Double, logits: [Float]) {
        guard !batch.isEmpty else { return (0, []) }
        let seqs = batch.map { $0.isEmpty ? [Vocabulary.padIndex] : $0 }
        let packed = PackedBatch(lengths: seqs.map(\.count))
        let E = w.embedding.dimension, rnn = w.rnn, H = rnn.hiddenSize, D = rnn.directions, L = rnn.numLayers
        let B = seqs.count
        var ids = [Int32](repeating: 0, count: packed.rows)
        for (j, b) in packed.order.enumerated() { for (t, id) in seqs[b].enumerated() { ids[packed.offsets[t] + j] = id } }
        var x = [Float](repeating: 0, count: packed.rows * E)
        for (r, id) in ids.enumerated() { for k in 0..<E { x[r * E + k] = w.embedding.weight[Int(id) * E + k] } }
        var rng = RandomSource(seed: seed)
        var maskX: [Float] = []
        if dropout > 0 && backward {
            let keep = 1 / (1 - dropout)
            maskX = (0..<x.count).map { _ in rng.unit() < Double(dropout) ? 0 : keep }
            for k in x.indices { x[k] *= maskX[k] }
        }
        let tape = RecurrentTape(layers: L, directions: D)
        let out = rnn.forward(x, batch: packed, tape: backward ? tape : nil)
        var feat = [Float](repeating: 0, count: B * D * H)
        for b in 0..<B { for d in 0..<D { for k in 0..<H {
            feat[b * D * H + d * H + k] = out.h[(((L - 1) * D + d) * B + b) * H + k]
        } } }
        var maskF: [Float] = []
        if dropout > 0 && backward {
            let keep = 1 / (1 - dropout)
            maskF = (0..<feat.count).map { _ in rng.unit() < Double(dropout) ? 0 : keep }
            for k in feat.indices { feat[k] *= maskF[k] }
        }
        var acts = [feat]
        var pre: [[Float]] = []
        for (k, layer) in w.head.enumerated() {
            var z = layer.forward(acts[k])
            pre.append(z)
            if k < w.head.count - 1 { z.withUnsafeMutableBufferPointer { Activation.relu($0) } }
            acts.append(z)
        }
        let logits = acts.last!
        let (loss, dz) = Losses.binaryCrossEntropyWithLogits(logits, labels, normalizer: total)
        guard backward else { return (loss, logits) }

        var da = dz
        for k in stride(from: w.head.count - 1, through: 0, by: -1) {
            if k < w.head.count - 1 { for q in da.indices where !(pre[k][q] > 0) { da[q] = 0 } }
            da = w.head[k].backward(x: acts[k], dy: da, rows: B, grad: &grads.head[k])
        }
        if !maskF.isEmpty { for k in da.indices { da[k] *= maskF[k] } }
        var dhN = [Float](repeating: 0, count: L * D * B * H)
        for b in 0..<B { for d in 0..<D { for k in 0..<H {
            dhN[(((L - 1) * D + d) * B + b) * H + k] = da[b * D * H + d * H + k]
        } } }
        var dx = rnn.backward(batch: packed, tape: tape, output: out.output, dOutput: nil, dhN: dhN, grads: &grads.rnn.weights)
        if !maskX.isEmpty { for k in dx.indices { dx[k] *= maskX[k] } }
        w.embedding.backward(ids: ids, dOut: dx, dWeight: &grads.embedding.weight)
        return (loss, logits)
    }

}
