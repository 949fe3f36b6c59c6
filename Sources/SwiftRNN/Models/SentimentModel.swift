/// The book's many-to-one review classifier: tokens -> embedding -> recurrent stack -> the final
/// hidden state of the last layer (bidirectional: forward and backward concatenated, as
/// `torch.cat((hidden[-2], hidden[-1]), dim=1)`) -> Linear (ReLU Linear)* -> sigmoid.
///
/// Immutable: one instance serves any number of threads.
public final class SentimentModel: Sendable {
    public let config: ModelConfig
    public let vocabulary: Vocabulary
    public let weights: ModelWeights
    /// Each direction's `W_hh` transposed, for the one-review step kernel (small hidden sizes).
    let transposedHH: [[Float]]?

    public init(config: ModelConfig, weights: ModelWeights) throws(SwiftRNNError) {
        guard config.kind == .sentiment else { throw .init(.wrongKind, "not a sentiment model") }
        self.config = config
        self.vocabulary = try Vocabulary(tokens: config.vocab)
        self.weights = weights
        let r = weights.rnn
        transposedHH = r.hiddenSize <= 256
            ? r.weights.map { Kernels.transpose($0.wHH, rows: r.gateWidth, cols: r.hiddenSize) } : nil
    }

    public func encode(_ text: String) -> [Int32] { vocabulary.encode(text) }

    /// The logit of a positive review. An empty id list is scored as `[0]` (`<pad>`), what the
    /// book's collate function would feed for a review with no tokens.
    public func logit(ids: [Int32]) -> Float {
        logits(batch: [ids])[0]
    }

    /// Logits of several id sequences in one packed batch (training and tests); each equals
    /// `logit(ids:)` of that sequence up to float rounding.
    public func logits(batch: [[Int32]]) -> [Float] {
        let seqs = batch.map { $0.isEmpty ? [Vocabulary.padIndex] : $0 }
        let packed = PackedBatch(lengths: seqs.map(\.count))
        let E = weights.embedding.dimension
        var x = [Float](repeating: 0, count: packed.rows * E)
        x.withUnsafeMutableBufferPointer { xp in
            for (j, b) in packed.order.enumerated() {
                for (t, id) in seqs[b].enumerated() {
                    weights.embedding.weight.withUnsafeBufferPointer { w in
                        (xp.baseAddress! + (packed.offsets[t] + j) * E)
                            .update(from: w.baseAddress! + Int(id) * E, count: E)
                    }
                }
            }
        }
        let out = weights.rnn.forward(x, batch: packed, transposedHH: transposedHH)
        return head(finalHidden: out.h, batch: packed.batch)
    }

    /// `h_n` of the stack -> the head's logits, one per sequence.
    func head(finalHidden h: [Float], batch B: Int) -> [Float] {
        let rnn = weights.rnn, H = rnn.hiddenSize, D = rnn.directions, L = rnn.numLayers
        var feat = [Float](repeating: 0, count: B * D * H)
        for b in 0..<B {
            for d in 0..<D {
                let slot = (L - 1) * D + d
                for k in 0..<H { feat[b * D * H + d * H + k] = h[(slot * B + b) * H + k] }
            }
        }
        for (k, layer) in weights.head.enumerated() {
            feat = layer.forward(feat)
            if k < weights.head.count - 1 {
                feat.withUnsafeMutableBufferPointer { Activation.relu($0) }
            }
        }
        return feat
    }

    /// The probability that `text` is a positive review.
    public func score(_ text: String) -> Float {
        Kernels.sigmoid(logit(ids: encode(text)))
    }

    /// Scores every text, each exactly as `score` would, spread over `threads` threads
    /// (0: all cores).
    public func scoreBatch(_ texts: [String], threads: Int = 0) -> [Float] {
        var out = [Float](repeating: 0, count: texts.count)
        out.withUnsafeMutableBufferPointer { o in
            let base = o.baseAddress!
            Parallel.forEach(count: texts.count, threads: threads) { i in base[i] = score(texts[i]) }
        }
        return out
    }
}
