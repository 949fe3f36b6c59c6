/// The book's many-to-one review classifier: tokens -> embedding -> recurrent stack -> the final
/// hidden state of the last layer (bidirectional: forward and backward concatenated, as
/// `torch.cat((hidden[-2], hidden[-1]), dim=1)`) -> Linear (ReLU Linear)* -> sigmoid.
///
/// Immutable: one instance serves any number of threads.
public final class SentimentModel: Sendable {
    public let config: ModelConfig
    public let vocabulary: Vocabulary
    public let weights: ModelWeights
    /// The row-kernel weights (hidden sizes up to 256, where they beat GEMMs and dot products).
    let transposed: TransposedWeights?

    public init(config: ModelConfig, weights: ModelWeights) throws(SwiftRNNError) {
        guard config.kind == .sentiment else { throw .init(.wrongKind, "not a sentiment model") }
        self.config = config
        self.vocabulary = try Vocabulary(tokens: config.vocab)
        self.weights = weights
        let r = weights.rnn
        transposed = r.hiddenSize <= 256 ? TransposedWeights(r) : nil
    }

    public func encode(_ text: String) -> [Int32] { vocabulary.encode(text) }

    /// The logit of a positive review. An empty id list is scored as `[0]` (`<pad>`), what the
    /// book's collate function would feed for a review with no tokens.
    public func logit(ids: [Int32], monitor: ProgressMonitor? = nil) -> Float {
        logits(batch: [ids], monitor: monitor)[0]
    }

    /// Logits of several id sequences in one packed batch (training and tests); each equals
    /// `logit(ids:)` of that sequence up to float rounding.
    public func logits(batch: [[Int32]], monitor: ProgressMonitor? = nil) -> [Float] {
        let seqs = batch.map { $0.isEmpty ? [Vocabulary.padIndex] : $0 }
        let packed = PackedBatch(lengths: seqs.map(\.count))
        // Token ids in packed row order; the layer looks their embedding rows up a chunk of
        // steps at a time, so memory does not grow with the text (issue 12).
        var rowIds = [Int32](repeating: 0, count: packed.rows)
        for (j, b) in packed.order.enumerated() {
            for (t, id) in seqs[b].enumerated() { rowIds[packed.offsets[t] + j] = id }
        }
        let out = weights.rnn.forward(.embedding(weights.embedding, ids: rowIds), batch: packed,
                                      transposed: transposed, keepOutput: false, monitor: monitor)
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
        // One row at a time: the same kernel calls whatever the batch, so batching never
        // changes a bit (a head is a few thousand multiply-adds per review).
        var out = [Float](repeating: 0, count: B)
        for b in 0..<B {
            var v = Array(feat[(b * D * H)..<((b + 1) * D * H)])
            for (k, layer) in weights.head.enumerated() {
                v = layer.forward(v)
                if k < weights.head.count - 1 {
                    v.withUnsafeMutableBufferPointer { Activation.relu($0) }
                }
            }
            out[b] = v[0]
        }
        return out
    }

    /// The probability that `text` is a positive review; NaN when the logit is not finite
    /// (weights that overflow Float on this text: the sigmoid would hide an infinite logit as
    /// 0 or 1, so that case is NaN too and the C layer reports it).
    public func score(_ text: String) -> Float { score(text, monitor: nil) }

    private func score(_ text: String, monitor: ProgressMonitor?) -> Float {
        Self.probability(logit(ids: encode(text), monitor: monitor))
    }

    @inline(__always)
    static func probability(_ logit: Float) -> Float { logit.isFinite ? Kernels.sigmoid(logit) : .nan }

    /// Scores every text, each exactly as `score` would (the same bits), spread over `threads`
    /// threads (0: all cores).
    ///
    /// When the layers run on the row kernels (`TransposedWeights`, hidden size <= 256) the texts
    /// are tokenized, sorted by length, and run `group` at a time through one packed batch, so
    /// that four reviews share every load of `W_hh` (`Kernels.matvecTransposedRows`). The
    /// kernels are row-identical, which is what keeps the promise above; ParityTests checks it.
    ///
    /// `threads` is capped at the number of cores: more would only add working memory.
    public func scoreBatch(_ texts: [String], threads requested: Int = 0) -> [Float] {
        scoreBatch(texts, threads: requested, monitor: nil)
    }

    /// `scoreBatch` with progress reports (reviews scored) and cancellation: CANCELLED once the
    /// monitor's callback asks to stop (within a chunk of 256 time steps of 16 reviews).
    public func scoreBatch(_ texts: [String], threads requested: Int = 0,
                           monitor: ProgressMonitor) throws(SwiftRNNError) -> [Float] {
        let out = scoreBatch(texts, threads: requested, monitor: Optional(monitor))
        monitor.poll(force: true)
        try monitor.check()
        return out
    }

    private func scoreBatch(_ texts: [String], threads requested: Int, monitor: ProgressMonitor?) -> [Float] {
        let threads = requested <= 0 ? Parallel.cores : min(requested, Parallel.cores)
        var out = [Float](repeating: 0, count: texts.count)
        guard transposed != nil, texts.count > 1 else {
            out.withUnsafeMutableBufferPointer { o in
                let base = o.baseAddress!
                Parallel.forEach(count: texts.count, threads: threads) { i in
                    if let monitor, monitor.poll() { return }
                    base[i] = score(texts[i], monitor: monitor)
                    monitor?.advance(by: 1)
                }
            }
            return out
        }
        // Windows bound the memory of the token ids whatever the number of texts.
        let window = 4096, group = 16
        var start = 0
        while start < texts.count {
            if let monitor, monitor.poll() { break }
            let end = min(texts.count, start + window)
            var ids = [[Int32]](repeating: [], count: end - start)
            ids.withUnsafeMutableBufferPointer { ip in
                let base = ip.baseAddress!
                Parallel.forEach(count: end - start, threads: threads) { i in
                    if let monitor, monitor.poll() { return }   // tokenizing 4,096 long texts takes a while
                    base[i] = encode(texts[start + i])
                }
            }
            // Longest first, so a group's sequences end together and the big groups start early.
            let order = ids.indices.sorted { ids[$0].count > ids[$1].count || (ids[$0].count == ids[$1].count && $0 < $1) }
            let groups = (order.count + group - 1) / group
            out.withUnsafeMutableBufferPointer { o in
                let base = o.baseAddress! + start
                Parallel.forEach(count: groups, threads: threads) { g in
                    if let monitor, monitor.poll() { return }
                    let members = order[(g * group)..<min(order.count, (g + 1) * group)]
                    let logits = logits(batch: members.map { ids[$0] }, monitor: monitor)
                    for (k, i) in members.enumerated() { base[i] = Self.probability(logits[k]) }
                    monitor?.advance(by: members.count)
                }
            }
            start = end
        }
        return out
    }
}
