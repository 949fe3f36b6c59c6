import SwiftRNN

/// Training of the book's character model: windows of `seqLength + 1` characters (inputs and
/// next-character targets), cross-entropy over every position, Adam, optional clipping, and
/// truncated BPTT: with `stateful`, each stream's final state seeds its next window (values
/// carried, gradient cut at the window boundary).
public struct CharLMTrainer {
    public struct Options {
        public var learningRate: Float
        public var batchSize: Int
        public var seqLength: Int
        public var threads: Int
        public var clipNorm: Float?

        public init(learningRate: Float = 0.005, batchSize: Int = 64, seqLength: Int = 40, threads: Int = 0, clipNorm: Float? = nil) {
            self.learningRate = learningRate; self.batchSize = batchSize; self.seqLength = seqLength
            self.threads = threads; self.clipNorm = clipNorm
        }
    }

    /// Recurrent state of every stream: `[layers, streams, state]` each (the state is `hidden`
    /// wide, or a Jordan cell's `output_size`).
    public struct StreamState {
        public var h: FloatBuffer
        public var c: FloatBuffer
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

    /// Mean cross-entropy (nats per character) of the windows, its gradients, and the final state.
    public mutating func lossAndGradients(windows: [[Int32]], state: StreamState?) -> (loss: Double, grads: ModelWeights, state: StreamState) {
        let B = windows.count, L = weights.rnn.numLayers, H = weights.rnn.stateSize
        let w = weights, totalRows = B * (windows[0].count - 1)
        let (grads, results) = shards.run(count: B, threads: options.threads, zerosLike: weights) { _, range, g in
            // This shard's streams of the carried state, `[L, streams, H]`.
            var h0: FloatBuffer?, c0: FloatBuffer?
            if let state {
                var h = [Float](), c = [Float]()
                for l in 0..<L {
                    h += state.h[((l * B + range.lowerBound) * H)..<((l * B + range.upperBound) * H)]
                    if !state.c.isEmpty { c += state.c[((l * B + range.lowerBound) * H)..<((l * B + range.upperBound) * H)] }
                }
                h0 = FloatBuffer(h); c0 = state.c.isEmpty ? nil : FloatBuffer(c)
            }
            return (range, Self.shardStep(weights: w, windows: Array(windows[range]), totalRows: totalRows, h0: h0, c0: c0, grads: &g))
        }
        // Reassemble the per-shard states into [L, B, H].
        var h = FloatBuffer(count: L * B * H), c = h
        for (range, r) in results {
            let n = range.count
            for l in 0..<L {
                for q in 0..<(n * H) {
                    h[(l * B + range.lowerBound) * H + q] = r.state.h[l * n * H + q]
                    c[(l * B + range.lowerBound) * H + q] = r.state.c.isEmpty ? 0 : r.state.c[l * n * H + q]
                }
            }
        }
        return (results.reduce(0) { $0 + $1.1.loss }, grads, StreamState(h: h, c: c))
    }

    /// One optimizer step on `windows` (each `seqLength + 1` ids). Returns loss and final state.
    public mutating func step(windows: [[Int32]], state: StreamState?) -> (loss: Double, state: StreamState) {
        let (loss, grads, final) = lossAndGradients(windows: windows, state: state)
        apply(grads)
        return (loss, final)
    }

    static func shardStep(weights w: ModelWeights, windows: [[Int32]], totalRows: Int, h0: FloatBuffer?, c0: FloatBuffer?,
                          grads: inout ModelWeights) -> (loss: Double, state: StreamState) {
        let B = windows.count, T = windows[0].count - 1
        let packed = PackedBatch(lengths: [Int](repeating: T, count: B))
        var ids = [Int32](repeating: 0, count: T * B)
        var targets = [Int32](repeating: 0, count: T * B)
        for t in 0..<T { for b in 0..<B { ids[t * B + b] = windows[b][t]; targets[t * B + b] = windows[b][t + 1] } }
        let tape = RecurrentTape(layers: w.rnn.numLayers, directions: 1)
        let (logits, out) = LanguageModel.forward(w, ids: ids, batch: packed, h0: h0, c0: c0, tape: tape)
        let (loss, dLogits) = Losses.crossEntropy(logits, classes: w.embedding.count, targets, normalizer: totalRows)
        LanguageModel.backward(w, ids: ids, batch: packed, h0: h0, c0: c0, tape: tape, output: out, dLogits: dLogits,
                                   grads: &grads)
        return (loss, StreamState(h: out.h, c: out.c ?? FloatBuffer(count: 0)))
    }
}
