/// A many-to-one text classifier with named labels: the sentiment model's pipeline (the book's
/// tokenizer, embedding, recurrent stack, final hidden state, Linear (ReLU Linear)*), run by
/// `SentimentModel.forward` itself, with `labels.count` outputs turned into probabilities by a
/// softmax (single-label) or one sigmoid per label (multi-label).
///
/// Immutable: one instance serves any number of threads.
public final class ClassifierModel: Sendable {
    public let config: ModelConfig
    public let vocabulary: Vocabulary
    public let weights: ModelWeights
    let transposed: TransposedWeights?

    public var labels: [String] { config.labels }
    public var multiLabel: Bool { config.multiLabel }

    public init(config: ModelConfig, weights: ModelWeights) throws(SwiftRNNError) {
        guard config.kind == .classifier else { throw .init(.wrongKind, "not a classifier model") }
        guard weights.head.last?.outFeatures == config.labels.count else {
            throw .format("the classifier's last head layer has \(weights.head.last?.outFeatures ?? 0) outputs but there are \(config.labels.count) labels")
        }
        self.config = config
        self.vocabulary = try Vocabulary(tokens: config.vocab)
        self.weights = weights
        transposed = SentimentModel.rowKernelWeights(weights)
    }

    public func encode(_ text: String) -> [Int32] { vocabulary.encode(text) }

    /// The logits of each id sequence, `labels.count` per sequence; each row holds the bits the
    /// sequence gives alone. The network alone: `classify` adds the n-gram term, if any.
    public func logits(batch: [[Int32]], monitor: ProgressMonitor? = nil) -> FloatBuffer {
        SentimentModel.forward(weights, batch: batch, transposed: transposed, monitor: monitor)
    }

    /// The vector the head reads for each id sequence (see
    /// `SentimentModel.features`).
    public func embeddings(batch: [[Int32]], monitor: ProgressMonitor? = nil) -> FloatBuffer {
        SentimentModel.features(weights, batch: batch, transposed: transposed, monitor: monitor)
    }

    /// The probability of each label for `text` (softmax, or sigmoid per label when
    /// multi-label); NaN everywhere when a logit is not finite (the C layer reports it).
    public func classify(_ text: String) -> [Float] {
        var z = logits(batch: [encode(text)]).array
        weights.ngrams?.addTerm(text, to: &z)
        return Self.probabilities(FloatBuffer(z), labels: labels.count, multiLabel: multiLabel)
    }

    /// `classify` of every text, rows one after another (`texts.count * labels.count`), each
    /// row the bits of `classify` alone; `threads` as in `SentimentModel.scoreBatch`.
    public func classifyBatch(_ texts: [String], threads: Int = 0, monitor: ProgressMonitor? = nil) -> [Float] {
        let n = labels.count
        let logits = SentimentModel.rowsOfBatch(texts, width: n, threads: threads, monitor: monitor,
                                                grouped: transposed != nil, encode: encode,
                                                rows: { self.logits(batch: $0, monitor: monitor) },
                                                ngrams: weights.ngrams)
        var out = [Float](repeating: 0, count: logits.count)
        for i in 0..<texts.count {
            let p = Self.probabilities(FloatBuffer(Array(logits[(i * n)..<((i + 1) * n)])), labels: n, multiLabel: multiLabel)
            for j in 0..<n { out[i * n + j] = p[j] }
        }
        return out
    }

    /// Softmax over the row (max subtracted), or a sigmoid per value; all NaN when a logit is
    /// not finite.
    static func probabilities(_ z: FloatBuffer, labels n: Int, multiLabel: Bool) -> [Float] {
        var p = [Float](repeating: 0, count: n)
        for j in 0..<n where !z[j].isFinite { return [Float](repeating: .nan, count: n) }
        if multiLabel {
            for j in 0..<n { p[j] = Kernels.sigmoid(z[j]) }
            return p
        }
        var top = z[0]
        for j in 1..<n { top = max(top, z[j]) }
        var sum: Float = 0
        for j in 0..<n { p[j] = Kernels.exp(z[j] - top); sum += p[j] }
        for j in 0..<n { p[j] /= sum }
        return p
    }
}
