/// The book's many-to-one review classifier: tokens -> embedding -> recurrent stack -> the final
/// hidden state of the last layer (bidirectional: forward and backward concatenated, as
/// `torch.cat((hidden[-2], hidden[-1]), dim=1)`; with concat pooling also the max and mean of
/// its outputs, `Pooling`) -> Linear (ReLU Linear)* -> sigmoid.
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
        transposed = Self.rowKernelWeights(weights)
    }

    /// The row-kernel weights of a many-to-one model (nil when GEMMs serve it better).
    static func rowKernelWeights(_ weights: ModelWeights) -> TransposedWeights? {
        let r = weights.rnn
        guard r.hiddenSize <= 256 || !weights.int8Scales.isEmpty else { return nil }
        var t = TransposedWeights(r, half: weights.halfKind, int8Scales: weights.int8Scales)
        t.tabulateInputs(weights.embedding, r)
        return t
    }

    /// The vector the head reads for each id sequence (`featureWidth` floats: the final state,
    /// bidirectional: forward then backward, then with concat pooling the max and the mean),
    /// rows one after another.
    public func embeddings(batch: [[Int32]], monitor: ProgressMonitor? = nil) -> FloatBuffer {
        Self.features(weights, batch: batch, transposed: transposed, monitor: monitor)
    }

    public func encode(_ text: String) -> [Int32] { vocabulary.encode(text) }

    /// The logit of a positive review. An empty id list is scored as `[0]` (`<pad>`), what the
    /// book's collate function would feed for a review with no tokens.
    public func logit(ids: [Int32], monitor: ProgressMonitor? = nil) -> Float {
        logits(batch: [ids], monitor: monitor)[0]
    }

    /// Logits of several id sequences in one packed batch; each is the bits `logit(ids:)` gives
    /// for that sequence alone (row kernels, one head row at a time).
    public func logits(batch: [[Int32]], monitor: ProgressMonitor? = nil) -> [Float] {
        Self.forward(weights, batch: batch, transposed: transposed, monitor: monitor).array
    }

    /// The classifier's forward pass, the one used for scoring and for training: ids ->
    /// embedding -> recurrent stack -> final hidden state of the last layer -> head -> one logit
    /// per sequence (`w.head.last.outFeatures` per sequence: the classifier kind runs this very
    /// function). An empty sequence is scored as `[0]` (`<pad>`).
    ///
    /// Without a tape (scoring), embedding rows are looked up a chunk of steps at a time, so
    /// memory does not grow with the text (issue 12), and the per-step output of the last layer
    /// is never stored. With a `tape` (training), the inputs and activations `backward` needs
    /// are kept, and dropout is applied as the tape says. The head runs one row at a time: the
    /// same kernel calls whatever the batch, so batching never changes a bit.
    public static func forward(_ w: ModelWeights, batch: [[Int32]], transposed: TransposedWeights? = nil,
                               tape: Tape? = nil, monitor: ProgressMonitor? = nil) -> FloatBuffer {
        let feat = features(w, batch: batch, transposed: transposed, tape: tape, monitor: monitor)
        return head(w, features: feat, rows: batch.count, tape: tape)
    }

    /// The encoder half of `forward`: ids -> embedding -> recurrent stack -> what the head reads,
    /// `[batch, featureWidth]`: the last layer's final states (bidirectional: `torch.cat((
    /// hidden[-2], hidden[-1]), dim=1)`), followed with concat pooling by the max and the mean of
    /// its outputs (`Pooling`). This is the vector `swiftrnn_embed` returns. With a tape,
    /// dropout is applied to it as the tape says.
    public static func features(_ w: ModelWeights, batch: [[Int32]], transposed: TransposedWeights? = nil,
                                tape: Tape? = nil, monitor: ProgressMonitor? = nil) -> FloatBuffer {
        let seqs = batch.map { $0.isEmpty ? [Vocabulary.padIndex] : $0 }
        let (packed, ids) = PackedBatch.of(seqs)
        let rnn = w.rnn, S = rnn.stateSize, D = rnn.directions, B = seqs.count
        let width = w.pooling.multiple * D * S
        let input: Recurrent.Input
        if let tape {
            var x = w.embedding.lookup(ids)
            tape.maskX = tape.dropout(&x)
            input = .rows(x)
        } else {
            input = .embedding(w.embedding, ids: ids)
        }
        let pool = w.pooling == .concat ? PoolAccumulator(batch: B, directions: D, width: S) : nil
        let out = rnn.forward(input, batch: packed, tape: tape?.rnn, transposed: transposed,
                              keepOutput: tape != nil, monitor: monitor, pool: pool)
        defer { withExtendedLifetime(out) {} }   // `hN` below is a span of out.h
        // `torch.cat((hidden[-2], hidden[-1]), dim=1)`: the last layer's final states.
        var feat = FloatBuffer(count: B * width)
        let f = feat.mutableSpan(), hN = out.h.span()
        for b in 0..<B {
            for d in 0..<D { f.slice(b * width + d * S, S).copy(from: hN.slice((((rnn.numLayers - 1) * D + d) * B + b) * S, S)) }
        }
        pool?.write(into: f, batch: packed, rowWidth: width, offset: D * S)
        if let tape {
            tape.maskF = tape.dropout(&feat)
            tape.batch = packed; tape.ids = ids; tape.output = out.output; tape.pool = pool; tape.rows = B
        }
        return feat
    }

    /// The training forward with the encoder frozen (ULMFiT's first stage of fine-tuning): the
    /// features come from the inference forward, so nothing of the encoder is kept; dropout on
    /// the features and the head as in `forward`. Only `backwardHead` may follow.
    public static func forwardFrozenEncoder(_ w: ModelWeights, batch: [[Int32]], tape: Tape) -> FloatBuffer {
        var feat = features(w, batch: batch)
        tape.maskF = tape.dropout(&feat)
        tape.rows = batch.count
        return head(w, features: feat, rows: batch.count, tape: tape)
    }

    /// The head half of `forward`: `rows` feature vectors -> Linear (ReLU Linear)* -> the last
    /// layer's outputs, `[rows, out]`, one row at a time.
    public static func head(_ w: ModelWeights, features feat: FloatBuffer, rows B: Int, tape: Tape? = nil) -> FloatBuffer {
        var acts = [feat], pre: [FloatBuffer] = []
        for (k, layer) in w.head.enumerated() {
            var z = FloatBuffer(count: B * layer.outFeatures)
            let a = acts[k].span(), zs = z.mutableSpan()
            for b in 0..<B {
                layer.forward(a.slice(b * layer.inFeatures, layer.inFeatures), rows: 1,
                              into: zs.slice(b * layer.outFeatures, layer.outFeatures))
            }
            if tape != nil { pre.append(z) }
            if k < w.head.count - 1 { Activation.relu(&z) }
            acts.append(z)
        }
        if let tape { tape.acts = acts; tape.pre = pre }
        return acts[acts.count - 1]
    }

    /// Backward of `forward` from the gradient of the loss w.r.t. the logits: accumulates into
    /// `grads` (same shapes as the weights). `embedding: false` leaves the embedding's gradient
    /// alone (a frozen embedding: its scatter-add is skipped).
    public static func backward(_ w: ModelWeights, tape: Tape, dLogits: FloatBuffer, grads: inout ModelWeights,
                                embedding: Bool = true) {
        let dFeatures = backwardHead(w, tape: tape, dLogits: dLogits, grads: &grads)
        let rnn = w.rnn, H = rnn.hiddenSize, D = rnn.directions, L = rnn.numLayers, B = tape.batch.batch
        let width = w.pooling.multiple * D * H
        var dhN = FloatBuffer(count: L * D * B * H)
        let dh = dhN.mutableSpan(), g = dFeatures.span()
        defer { withExtendedLifetime(dFeatures) {} }
        for b in 0..<B { for d in 0..<D { dh.slice((((L - 1) * D + d) * B + b) * H, H).copy(from: g.slice(b * width + d * H, H)) } }
        var dOutput: FloatBuffer? = nil
        if let pool = tape.pool {
            var dOut = FloatBuffer(count: tape.batch.rows * D * H)
            pool.backward(g, batch: tape.batch, rowWidth: width, offset: D * H, into: dOut.mutableSpan())
            dOutput = dOut
        }
        var dx = rnn.backward(batch: tape.batch, tape: tape.rnn, output: tape.output, dOutput: dOutput, dhN: dhN,
                              grads: &grads.rnn.weights)
        guard embedding else { return }
        if let m = tape.maskX { Kernels.multiply(dx.mutableSpan(), by: m.span()) }
        w.embedding.backward(ids: tape.ids, dOut: dx, dWeight: &grads.embedding.weight)
    }

    /// Backward of the head (and of the features' dropout): accumulates the head's gradients
    /// and returns the gradient w.r.t. the features, `[rows, featureWidth]`.
    @discardableResult
    public static func backwardHead(_ w: ModelWeights, tape: Tape, dLogits: FloatBuffer, grads: inout ModelWeights) -> FloatBuffer {
        var da = dLogits
        for k in stride(from: w.head.count - 1, through: 0, by: -1) {
            if k < w.head.count - 1 { Activation.reluBackward(&da, preActivation: tape.pre[k]) }
            da = w.head[k].backward(x: tape.acts[k], dy: da, rows: tape.rows, grad: &grads.head[k])
        }
        if let m = tape.maskF { Kernels.multiply(da.mutableSpan(), by: m.span()) }
        return da
    }

    /// What a training forward keeps for `backward`, and its dropout: `rate` on the embeddings
    /// and on the features fed to the head (inverted dropout, masks drawn from `seed`).
    public final class Tape {
        public let rnn: RecurrentTape
        let rate: Float
        var rng: RandomSource
        var maskX: FloatBuffer?, maskF: FloatBuffer?
        var batch = PackedBatch(lengths: [])
        var ids: [Int32] = []
        var output = FloatBuffer(count: 0)
        var pool: PoolAccumulator?
        var rows = 0
        var acts: [FloatBuffer] = [], pre: [FloatBuffer] = []

        public init(for rnn: Recurrent, dropout rate: Float = 0, seed: UInt64 = 0) {
            self.rnn = RecurrentTape(layers: rnn.numLayers, directions: rnn.directions)
            self.rate = rate
            rng = RandomSource(seed: seed)
        }

        /// Zeroes each value with probability `rate` and scales the others by 1 / (1 - rate);
        /// returns the mask (nil when `rate` is 0).
        func dropout(_ x: inout FloatBuffer) -> FloatBuffer? {
            guard rate > 0 else { return nil }
            let keep = 1 / (1 - rate)
            var mask = FloatBuffer(count: x.count)
            let m = mask.mutableSpan()
            for k in 0..<m.count { m[k] = rng.unit() < Double(rate) ? 0 : keep }
            Kernels.multiply(x.mutableSpan(), by: m.readOnly)
            return mask
        }
    }

    /// The probability that `text` is a positive review; NaN when the logit is not finite
    /// (weights that overflow Float on this text: the sigmoid would hide an infinite logit as
    /// 0 or 1, so that case is NaN too and the C layer reports it).
    public func score(_ text: String) -> Float { score(text, monitor: nil) }

    private func score(_ text: String, monitor: ProgressMonitor?) -> Float {
        Self.probability(logit(text: text, monitor: monitor))
    }

    /// The logit of `text`: the network's, plus the n-gram term when the model has one (the
    /// id-based `logit(ids:)` and `logits(batch:)` are the network alone: the term reads the
    /// tokens themselves, out-of-vocabulary ones too).
    public func logit(text: String, monitor: ProgressMonitor? = nil) -> Float {
        var z = [logit(ids: encode(text), monitor: monitor)]
        weights.ngrams?.addTerm(text, to: &z)
        return z[0]
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
        Self.rowsOfBatch(texts, width: 1, threads: requested, monitor: monitor, grouped: transposed != nil,
                         encode: encode, rows: { Self.forward(weights, batch: $0, transposed: transposed, monitor: monitor) },
                         ngrams: weights.ngrams)
            .map(Self.probability)
    }

    /// Runs `rows` (id sequences -> `width` floats per sequence) over every text, spread over
    /// `threads` threads (0: all cores, capped at the cores), and returns the rows text after
    /// text. Each text's row holds the bits `rows([encode(text)])` gives: `rows` must be
    /// row-exact (the row kernels and a one-row-at-a-time head are).
    ///
    /// When `grouped` (the layers run on the row kernels, `TransposedWeights`, hidden size
    /// <= 256) the texts are tokenized, sorted by length, and run `group` at a time through one
    /// packed batch, so that four reviews share every load of `W_hh`
    /// (`Kernels.matvecTransposedRows`). The kernels are row-identical, which is what keeps the
    /// promise above; ParityTests checks it. Shared by the sentiment and classifier kinds.
    /// With `ngrams`, each text's n-gram term is added to its row after the network's values,
    /// as the one-text functions add it.
    static func rowsOfBatch(_ texts: [String], width: Int, threads requested: Int, monitor: ProgressMonitor?,
                            grouped: Bool, encode: (String) -> [Int32], rows: ([[Int32]]) -> FloatBuffer,
                            ngrams: NGramBag? = nil) -> [Float] {
        var out = rowsOfBatch(texts, width: width, threads: requested, monitor: monitor, grouped: grouped,
                              encode: encode, rows: rows)
        guard let ngrams else { return out }
        let threads = requested <= 0 ? Parallel.cores : min(requested, Parallel.cores)
        let terms = Parallel.map(count: texts.count, threads: threads) { i -> [Float] in
            if let monitor, monitor.poll() { return [] }
            return ngrams.term(texts[i])
        }
        for (i, t) in terms.enumerated() where t.count == width {
            for j in 0..<width { out[i * width + j] += t[j] }
        }
        return out
    }

    static func rowsOfBatch(_ texts: [String], width: Int, threads requested: Int, monitor: ProgressMonitor?,
                            grouped: Bool, encode: (String) -> [Int32], rows: ([[Int32]]) -> FloatBuffer) -> [Float] {
        let threads = requested <= 0 ? Parallel.cores : min(requested, Parallel.cores)
        var result = FloatBuffer(count: texts.count * width)
        let out = result.mutableSpan()
        guard grouped, texts.count > 1 else {
            Parallel.forEach(count: texts.count, threads: threads) { i in
                if let monitor, monitor.poll() { return }
                let r = rows([encode(texts[i])])
                out.slice(i * width, width).copy(from: r.span())
                withExtendedLifetime(r) {}
                monitor?.advance(by: 1)
            }
            return result.array
        }
        // Windows bound the memory of the token ids whatever the number of texts.
        let window = 4096, group = 16
        var start = 0
        while start < texts.count {
            if let monitor, monitor.poll() { break }
            let end = min(texts.count, start + window)
            let ids = Parallel.map(count: end - start, threads: threads) { i -> [Int32] in
                if let monitor, monitor.poll() { return [] }   // tokenizing 4,096 long texts takes a while
                return encode(texts[start + i])
            }
            // Longest first, so a group's sequences end together and the big groups start early.
            let order = ids.indices.sorted { ids[$0].count > ids[$1].count || (ids[$0].count == ids[$1].count && $0 < $1) }
            let groups = (order.count + group - 1) / group
            Parallel.forEach(count: groups, threads: threads) { g in
                if let monitor, monitor.poll() { return }
                let members = order[(g * group)..<min(order.count, (g + 1) * group)]
                let r = rows(members.map { ids[$0] })
                let rs = r.span()
                for (k, i) in members.enumerated() { out.slice((start + i) * width, width).copy(from: rs.slice(k * width, width)) }
                withExtendedLifetime(r) {}
                monitor?.advance(by: members.count)
            }
            start = end
        }
        return result.array
    }
}
