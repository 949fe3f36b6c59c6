import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

// The two training programs behind `swiftrnn train`: data in, a model file (plus a checkpoint
// and a metrics CSV beside it) out. Every random choice derives from the seed and the position
// in training, so a run resumed from its checkpoint continues exactly as if never stopped.

public struct SentimentRunConfig {
    public var out: String
    public var epochs = 10
    public var batchSize = 32
    public var learningRate: Float = 1e-3
    public var embeddingDim = 20
    public var hiddenSize = 64
    public var fcHidden = 64
    public var cell = CellKind.lstm
    public var layers = 1
    public var bidirectional = false
    public var dropout: Float = 0
    public var clipNorm: Float? = nil
    public var seed: UInt64 = 1
    public var threads = 0
    public var maxVocab: Int? = nil
    /// The split `train` and `valid` came from, saved in the model (`TrainingSplit`).
    public var split: TrainingSplit? = nil
    /// Texts that are not reviews (`NeutralText`), trained toward 0.5 beside the reviews: after
    /// the vocabulary is built (they add no tokens), shuffled into the batches like reviews.
    public var neutral: [String] = []
    /// A word language model (`train wordlm`) whose vocabulary, embedding and recurrent layers
    /// (the forward direction: a bidirectional encoder's reverse direction starts fresh) the
    /// classifier starts from (issue 14). Its sizes replace embeddingDim, hiddenSize, cell and
    /// layers; `maxVocab` then adds the training tokens among the N most frequent that its
    /// vocabulary lacks (embeddings starting at the mean of its rows).
    public var initFrom: String? = nil
    /// Word vectors (`WordVectors`: word2vec/fastText/GloVe text, or `train wordvec`) that
    /// start the embedding rows of the tokens they cover; the vocabulary is built as usual.
    public var initEmbedding: String? = nil
    /// With `initEmbedding`: the vocabulary also takes the file's words that the training
    /// reviews' vocabulary lacks, in file order. Their rows are never trained (no training
    /// review has them), but the pretraining placed them near words that are: a test review's
    /// word that no labelled review used still counts.
    public var addVectorWords = false
    /// Short-text augmentation: each training review is, with this probability per epoch, cut
    /// to a random window of `cropLength` tokens (0: off). IMDb reviews average 230 tokens; the
    /// snippets users also score (a product review, a tweet) are 10-30, which the network would
    /// otherwise never see in training.
    public var cropFraction: Float = 0
    /// The windows' lengths, drawn uniformly.
    public var cropLength = 5...40
    /// What the head reads (`Pooling`): the final state, or ULMFiT's concat pooling.
    public var pooling = Pooling.last
    /// Discriminative learning rates: each layer group learns this many times slower than the
    /// one above it (ULMFiT: 2.6). See `SentimentTrainer.Options.layerDecay`.
    public var layerDecay: Float = 1
    /// Gradual unfreezing: epoch 1 trains the head alone, each later epoch one more layer group
    /// (the last recurrent layer, ..., the embedding) until all train.
    public var gradualUnfreezing = false
    /// ULMFiT's slanted triangular learning rate over the whole run: a linear rise over the
    /// first 10% of the steps to `learningRate`, then a linear fall to `learningRate / 32`
    /// (false: constant).
    public var slantedTriangular = false
    public var resume = false
    /// Progress reports and stopping (default: silent, never stops).
    public var observer = RunObserver.silent
    public var commandLine = ""

    public init(out: String) { self.out = out }
}

public struct SentimentRunResult {
    public var bestValidAccuracy: Double
    public var bestEpoch: Int
    public var epochsRun: Int
    public var interrupted: Bool
    public var seconds: Double
    /// Embedding rows that `initEmbedding` started (0 without it).
    public var initializedRows: Int
}

public enum SentimentRun {
    /// Length-bucketed batches: shuffle, sort chunks of 50 batches by length (little padding
    /// work, as packed sequences stop early anyway), then shuffle the batch order.
    static func batches(count: Int, lengths: [Int], batchSize: Int, seed: UInt64, epoch: Int) -> [[Int]] {
        var rng = RandomSource(seed: seed &* 1_000_003 &+ UInt64(epoch))
        var idx = Array(0..<count)
        shuffle(&idx, &rng)
        var out: [[Int]] = []
        let chunk = batchSize * 50
        for c in stride(from: 0, to: count, by: chunk) {
            let part = idx[c..<min(count, c + chunk)].sorted { lengths[$0] < lengths[$1] || (lengths[$0] == lengths[$1] && $0 < $1) }
            for b in stride(from: 0, to: part.count, by: batchSize) {
                out.append(Array(part[b..<min(part.count, b + batchSize)]))
            }
        }
        shuffle(&out, &rng)
        return out
    }

    /// ULMFiT's slanted triangular learning rate (Howard & Ruder 2018, eq. 3; cut_frac 0.1,
    /// ratio 32) at `step` of `total`.
    public static func slantedTriangular(step t: Int, total T: Int, peak: Float) -> Float {
        let cut = max(1, T / 10)
        let p = t < cut ? Double(t) / Double(cut) : 1 - Double(t - cut) / Double(max(1, T - cut))
        return peak * Float((1 + max(0, p) * 31) / 32)
    }

    public static func run(_ cfg: SentimentRunConfig, train: [Review], valid: [Review]) throws(SwiftRNNError) -> SentimentRunResult {
        try BLAS.ensureLoaded()
        let checkpoint = try TrainingLoop.resumable(cfg.out, resume: cfg.resume)
        var task = try SentimentTask(cfg, train: train, valid: valid, resumingFrom: checkpoint)
        let r = try TrainingLoop.run(&task, out: cfg.out, from: checkpoint, observer: cfg.observer)
        return SentimentRunResult(bestValidAccuracy: task.best.acc, bestEpoch: task.best.epoch, epochsRun: r.phasesRun,
                                  interrupted: r.interrupted, seconds: r.seconds, initializedRows: task.initializedRows)
    }
}

/// The sentiment classifier as a `TrainingTask`: epochs of length-bucketed batches, then
/// validation; the model file keeps the epoch with the best validation accuracy (without
/// validation reviews, the latest epoch).
struct SentimentTask: TrainingTask {
    let cfg: SentimentRunConfig
    var config: ModelConfig
    var trainer: SentimentTrainer
    let train: [Review], valid: [Review]
    let trainIds: [[Int32]], validIds: [[Int32]]
    let csv: CSVLog
    var best = (acc: -1.0, epoch: 0)
    /// Embedding rows that came from --init-embedding's vectors.
    var initializedRows = 0
    // The current epoch's batches and running metrics.
    var epoch = -1
    var batches: [[Int]] = []
    var lossSum = 0.0, correct = 0, seen = 0, judged = 0

    var weights: ModelWeights { trainer.weights }
    var adam: Adam { trainer.adam }
    var phases: Int { cfg.epochs }
    func steps(inPhase phase: Int) -> Int { (train.count + cfg.batchSize - 1) / cfg.batchSize }
    func label(phase: Int) -> String { "epoch \(phase + 1)/\(cfg.epochs)" }
    var unit: String { "reviews" }
    var checkpointEvery: Int? { nil }
    var savesModelAtEnd: Bool { false }

    init(_ cfg: SentimentRunConfig, train: [Review], valid: [Review], resumingFrom ck: Checkpoint?) throws(SwiftRNNError) {
        self.cfg = cfg; self.valid = valid
        self.train = train + cfg.neutral.map { Review(text: $0, label: 0.5) }
        var options = SentimentTrainer.Options(learningRate: cfg.learningRate, threads: cfg.threads, dropout: cfg.dropout,
                                               clipNorm: cfg.clipNorm, seed: cfg.seed)
        options.layerDecay = cfg.layerDecay
        if let ck {
            config = ck.config
            trainer = SentimentTrainer(weights: ck.weights, config: config, options: options)
            trainer.adam = ck.adam
            best = (Double(ck.progress["best_acc_ppm"] ?? -1_000_000) / 1e6, ck.progress["best_epoch"] ?? 0)
        } else if let path = cfg.initFrom {
            // A model file, or the checkpoint of a pretraining run still in progress.
            let lm = path.hasSuffix(".ckpt")
                ? try { () throws(SwiftRNNError) -> Model in
                    let ck = try Checkpoint.load(path: path)
                    return try Model.make(config: ck.config, weights: ck.weights)
                }()
                : try Model.load(path: path)
            guard case let .wordlm(m) = lm else {
                throw .init(.wrongKind, "--init-from needs a wordlm model (swiftrnn train wordlm); \(path) is a \(lm.config.kind.rawValue) model")
            }
            let c = m.config
            // --max-vocab N: the language model's vocabulary, then the training reviews' tokens
            // among their N most frequent that it lacks (the language model's softmax bounds
            // its vocabulary; a classifier gains from rare words).
            var vocab = c.vocab
            if let n = cfg.maxVocab {
                let known = Set(vocab)
                vocab += Vocabulary.build(from: train.map(\.text), maxTokens: n).tokens.filter { !known.contains($0) }
            }
            config = ModelConfig(kind: .sentiment, cell: c.cell, vocabSize: vocab.count, embeddingDim: c.embeddingDim,
                                 hiddenSize: c.hiddenSize, numLayers: c.numLayers, bidirectional: cfg.bidirectional,
                                 head: ["fc1", "fc2"], vocab: vocab)
            config.pooling = cfg.pooling
            var w = Initialization.pytorchDefault(config: config, headSizes: [cfg.fcHidden, 1], seed: cfg.seed)
            w.embedding.weight = Self.extendedEmbedding(m.weights.embedding.weight, rows: c.vocabSize,
                                                        to: vocab.count, width: c.embeddingDim)
            for layer in 0..<c.numLayers {
                w.rnn.weights[layer * config.directions] = m.weights.rnn.weights[layer]
                if config.bidirectional && layer > 0 {
                    // The layer above a bidirectional one reads 2H inputs; the LM's reads H: only
                    // the forward half of W_ih carries over, the backward half starts at zero.
                    let G = c.cell.gates * c.hiddenSize
                    var wih = FloatBuffer(count: G * 2 * c.hiddenSize)
                    let src = m.weights.rnn.weights[layer].wIH, H = c.hiddenSize
                    for r in 0..<G { for k in 0..<H { wih[r * 2 * H + k] = src[r * H + k] } }
                    w.rnn.weights[layer * 2].wIH = wih
                }
            }
            trainer = SentimentTrainer(weights: w, config: config, options: options)
        } else {
            var tokens = Vocabulary.build(from: train.map(\.text), maxTokens: cfg.maxVocab).tokens
            var vectors: WordVectors? = nil
            if let path = cfg.initEmbedding {
                let wanted = Set(tokens.map { Array($0.utf8) })
                vectors = try WordVectors.load(path: path, wanted: cfg.addVectorWords ? nil : wanted)
                if cfg.addVectorWords, let v = vectors {
                    tokens += v.order.filter { !wanted.contains($0) && $0 != Array("<pad>".utf8) && $0 != Array("<unk>".utf8) }
                        .map { String(decoding: $0, as: UTF8.self) }
                }
            }
            config = ModelConfig(kind: .sentiment, cell: cfg.cell, vocabSize: tokens.count, embeddingDim: cfg.embeddingDim,
                                 hiddenSize: cfg.hiddenSize, numLayers: cfg.layers, bidirectional: cfg.bidirectional,
                                 head: ["fc1", "fc2"], vocab: tokens)
            config.pooling = cfg.pooling
            var w = Initialization.pytorchDefault(config: config, headSizes: [cfg.fcHidden, 1], seed: cfg.seed)
            if let vectors { initializedRows = try vectors.initialize(&w.embedding.weight, tokens: config.vocab) }
            trainer = SentimentTrainer(weights: w, config: config, options: options)
        }
        config.trainedBy = cfg.commandLine.isEmpty ? nil : cfg.commandLine
        config.trainingSplit = cfg.split?.metadata
        let vocab = try Vocabulary(tokens: config.vocab)
        func encodeAll(_ r: [Review]) -> [[Int32]] {
            Parallel.map(count: r.count, threads: cfg.threads) { vocab.encode(r[$0].text) }
        }
        trainIds = encodeAll(self.train)
        validIds = encodeAll(valid)
        csv = CSVLog(path: cfg.out + ".metrics.csv", header: "epoch,train_loss,train_acc,valid_loss,valid_acc,seconds,reviews_per_s",
                     append: ck != nil)
    }

    /// A language model's embedding grown to `total` rows: the new tokens start at the mean of
    /// its rows but `<pad>` (ULMFiT's choice for tokens the language model never saw).
    static func extendedEmbedding(_ e: FloatBuffer, rows: Int, to total: Int, width E: Int) -> FloatBuffer {
        guard total > rows else { return e }
        var out = FloatBuffer(count: total * E)
        let o = out.mutableSpan(), src = e.span()
        o.slice(0, rows * E).copy(from: src)
        var mean = [Double](repeating: 0, count: E)
        for r in 1..<rows { for k in 0..<E { mean[k] += Double(src[r * E + k]) } }
        for r in rows..<total { for k in 0..<E { o[r * E + k] = Float(mean[k] / Double(rows - 1)) } }
        return out
    }

    mutating func step(_ at: RunPosition) throws(SwiftRNNError) -> (units: Int, metrics: String) {
        if at.phase != epoch {
            epoch = at.phase
            batches = SentimentRun.batches(count: train.count, lengths: trainIds.map(\.count), batchSize: cfg.batchSize,
                                           seed: cfg.seed, epoch: epoch)
            lossSum = 0; correct = 0; seen = 0; judged = 0
        }
        let b = batches[at.step]
        let labels = b.map { train[$0].label }
        if cfg.gradualUnfreezing { trainer.options.unfrozenGroups = at.phase + 1 }
        if cfg.slantedTriangular {
            let perEpoch = steps(inPhase: at.phase)
            trainer.adam.learningRate = SentimentRun.slantedTriangular(step: at.phase * perEpoch + at.step,
                                                                       total: cfg.epochs * perEpoch, peak: cfg.learningRate)
        }
        let (loss, logits) = trainer.step(batch: b.map { crop(trainIds[$0], review: $0, epoch: at.phase) }, labels: labels)
        lossSum += loss * Double(b.count)
        seen += b.count
        for (z, y) in zip(logits, labels) where y != 0.5 {   // a neutral window has no right side
            judged += 1
            if (z > 0) == (y > 0.5) { correct += 1 }
        }
        return (b.count, "loss \(fmt(lossSum / Double(seen), 4)) acc \(fmt(Double(correct) / Double(max(judged, 1)), 4))")
    }

    /// `ids`, or (with probability `cropFraction`) a window of them: drawn from the seed, the
    /// epoch and the review alone, so a resumed run crops as an uninterrupted one does.
    func crop(_ ids: [Int32], review: Int, epoch: Int) -> [Int32] {
        guard cfg.cropFraction > 0 else { return ids }
        var rng = RandomSource(seed: (cfg.seed &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(epoch) << 32 | UInt64(review)))
        guard Float(rng.next() >> 40) / Float(1 << 24) < cfg.cropFraction else { return ids }
        let span = cfg.cropLength.upperBound - cfg.cropLength.lowerBound + 1
        let n = cfg.cropLength.lowerBound + Int(rng.next() % UInt64(span))
        guard ids.count > n else { return ids }
        let start = Int(rng.next() % UInt64(ids.count - n + 1))
        return Array(ids[start..<(start + n)])
    }

    mutating func endPhase(_ phase: Int, seconds: Double) throws(SwiftRNNError) -> String? {
        let tAcc = judged > 0 ? Double(correct) / Double(judged) : 0
        let tLoss = lossSum / Double(max(seen, 1))
        if validIds.isEmpty {
            // Trained on every review (`--validation 0`): nothing to choose an epoch by, so the
            // file holds the latest epoch (the recipe's epoch count was chosen on a split run).
            csv.write([String(phase + 1), fmt(tLoss, 5), fmt(tAcc, 5), "", "", fmt(seconds, 1), fmt(Double(seen) / seconds, 1)])
            best = (0, phase + 1)
            var c = config
            c.description = "sentiment \(config.cell.rawValue)\(config.bidirectional ? " bidirectional" : ""); epoch \(phase + 1) of \(cfg.epochs), trained on all \(train.count) reviews (no validation)"
            try Model.make(config: c, weights: trainer.weights).save(to: cfg.out)
            return "epoch \(phase + 1): train loss \(fmt(tLoss, 4)) acc \(fmt(tAcc, 4)) | no validation | \(fmt(seconds, 1)) s"
        }
        let model = try SentimentModel(config: config, weights: trainer.weights)
        var logits = FloatBuffer(count: validIds.count)
        let out = logits.mutableSpan()
        Parallel.forEach(count: validIds.count, threads: cfg.threads) { out[$0] = model.logit(ids: validIds[$0]) }
        let vLoss = Losses.binaryCrossEntropyWithLogits(logits, valid.map(\.label)).loss
        let vAcc = Double(zip(logits, valid).filter { ($0.0 > 0) == ($0.1.label > 0.5) }.count) / Double(valid.count)
        csv.write([String(phase + 1), fmt(tLoss, 5), fmt(tAcc, 5), fmt(vLoss, 5), fmt(vAcc, 5),
                   fmt(seconds, 1), fmt(Double(seen) / seconds, 1)])
        if vAcc > best.acc {
            best = (vAcc, phase + 1)
            var c = config
            c.description = "sentiment \(config.cell.rawValue)\(config.bidirectional ? " bidirectional" : ""); epoch \(phase + 1) of \(cfg.epochs), validation accuracy \(fmt(vAcc, 4))"
            try Model.make(config: c, weights: trainer.weights).save(to: cfg.out)
        }
        return "epoch \(phase + 1): train loss \(fmt(tLoss, 4)) acc \(fmt(tAcc, 4)) | valid loss \(fmt(vLoss, 4)) acc \(fmt(vAcc, 4)) | \(fmt(seconds, 1)) s"
    }

    func checkpointState() -> (progress: [String: Int], extra: [String: [Float]]) {
        (["best_acc_ppm": Int(best.acc * 1e6), "best_epoch": best.epoch], [:])
    }
}

/// A language model's training run: the book's character model (`CharLMRun`) or a word model
/// (`WordLMRun`, issue 14), one TBPTT trainer for both.
public struct LanguageModelRunConfig {
    public var out: String
    public var iterations = 10000
    public var batchSize = 64
    public var seqLength = 40
    public var learningRate: Float = 0.005
    public var embeddingDim = 256
    public var hiddenSize = 512
    public var cell = CellKind.lstm
    /// `jordan` cells: the width of each layer's output `y` (what recurs; docs/jordan.md).
    public var outputSize = 0
    public var layers = 1
    /// 0: the book's scheme (independent random windows from a zero state). K > 0: stateful
    /// streams through the text, state carried across windows, gradient cut every K steps.
    public var tbptt = 0
    public var clipNorm: Float? = nil
    /// When set, the learning rate follows a cosine from `learningRate` at the first iteration
    /// down to this value at the last (SGDR without restarts). A constant rate keeps fitting
    /// the training text after a few passes; the decay is what lets a long run keep improving
    /// on text it has not seen.
    public var finalLearningRate: Float? = nil
    public var seed: UInt64 = 1
    public var threads = 0
    public var logEvery = 100
    public var checkpointEvery = 500
    public var resume = false
    /// Progress reports and stopping (default: silent, never stops).
    public var observer = RunObserver.silent
    public var commandLine = ""
    /// Word models: entries of the vocabulary (with `<pad>`, `<unk>`, `<eos>`).
    public var vocabularySize = 8000
    /// Word models: held-out reviews whose perplexity is reported at the end of the run.
    public var heldOutReviews = 500

    public init(out: String) { self.out = out }
}

public typealias CharLMRunConfig = LanguageModelRunConfig

public enum CharLMRun {
    public static func run(_ cfg: CharLMRunConfig, corpus: CharCorpus) throws(SwiftRNNError) -> (lastLoss: Double, interrupted: Bool, seconds: Double) {
        try BLAS.ensureLoaded()
        let checkpoint = try TrainingLoop.resumable(cfg.out, resume: cfg.resume)
        var fresh = ModelConfig(kind: .charlm, cell: cfg.cell, vocabSize: corpus.characters.count,
                                embeddingDim: cfg.embeddingDim, hiddenSize: cfg.hiddenSize, numLayers: cfg.layers,
                                bidirectional: false, head: ["fc"], vocab: corpus.characters)
        if cfg.cell == .jordan {
            guard cfg.outputSize > 0 else { throw .invalid("a jordan cell needs an output size (--output-size)") }
            fresh.outputSize = cfg.outputSize
        }
        var task = try LanguageModelTask(cfg, fresh: fresh, trainIds: corpus.trainIds, unit: "characters",
                                         resumingFrom: checkpoint, evaluate: nil)
        let r = try TrainingLoop.run(&task, out: cfg.out, from: checkpoint, observer: cfg.observer)
        return (task.last, r.interrupted, r.seconds)
    }

    /// The rate of 0-based iteration `it`: constant, or the cosine of `finalLearningRate`.
    public static func learningRate(_ cfg: CharLMRunConfig, iteration it: Int) -> Float {
        guard let lo = cfg.finalLearningRate, cfg.iterations > 1 else { return cfg.learningRate }
        let progress = Double(it) / Double(cfg.iterations - 1)
        let hi = Double(cfg.learningRate)
        return Float(Double(lo) + 0.5 * (hi - Double(lo)) * (1 + cos(Double.pi * progress)))
    }
}


/// A language model as a `TrainingTask`: one phase of `iterations` steps, each on `batchSize`
/// windows: random ones from a zero state (the book), or (`tbptt`) consecutive windows of
/// `batchSize` streams through the text with the state carried. `evaluate` (word models:
/// held-out perplexity) runs at the end and gives the summary line.
struct LanguageModelTask: TrainingTask {
    let cfg: LanguageModelRunConfig
    var config: ModelConfig
    var trainer: CharLMTrainer
    let ids: [Int32]
    let streamLen: Int
    var pos = 0
    var state: CharLMTrainer.StreamState? = nil
    let csv: CSVLog
    var last = 0.0
    var windowLoss = 0.0, windowCount = 0
    var tLog = monotonicSeconds(), t0 = monotonicSeconds()
    /// What one id is, in the metrics ("characters", "tokens").
    let idUnit: String
    let evaluate: ((ModelWeights) -> String)?

    var weights: ModelWeights { trainer.weights }
    var adam: Adam { trainer.adam }
    var phases: Int { 1 }
    func steps(inPhase phase: Int) -> Int { cfg.iterations }
    func label(phase: Int) -> String { config.kind.rawValue }
    var unit: String { "it" }
    var checkpointEvery: Int? { cfg.checkpointEvery }
    var savesModelAtEnd: Bool { true }

    init(_ cfg: LanguageModelRunConfig, fresh: ModelConfig, trainIds: [Int32], unit: String, resumingFrom ck: Checkpoint?,
         evaluate: ((ModelWeights) -> String)?) throws(SwiftRNNError) {
        guard fresh.cell != .jordan || (fresh.kind == .charlm && fresh.outputSize > 0) else {
            throw .init(.unsupported, "a jordan cell trains in a charlm model with an output size only (docs/jordan.md)")
        }
        self.cfg = cfg
        self.idUnit = unit
        self.evaluate = evaluate
        let options = CharLMTrainer.Options(learningRate: cfg.learningRate, batchSize: cfg.batchSize, seqLength: cfg.seqLength,
                                            threads: cfg.threads, clipNorm: cfg.clipNorm)
        if let ck {
            config = ck.config
            trainer = CharLMTrainer(weights: ck.weights, config: config, options: options)
            trainer.adam = ck.adam
            pos = ck.progress["pos"] ?? 0
            if let h = ck.extra["state.h"], let c = ck.extra["state.c"] { state = .init(h: FloatBuffer(h), c: FloatBuffer(c)) }
        } else {
            config = fresh
            let w = Initialization.pytorchDefault(config: config, headSizes: [config.vocabSize], seed: cfg.seed)
            trainer = CharLMTrainer(weights: w, config: config, options: options)
        }
        config.trainedBy = cfg.commandLine.isEmpty ? nil : cfg.commandLine
        ids = trainIds
        let B = cfg.batchSize, T = cfg.seqLength
        guard ids.count > B * (T + 1) else { throw .invalid("the training text (\(ids.count) \(unit)) is too short for batch \(B) x \(T + 1)") }
        streamLen = ids.count / B
        // The character model's columns are those of 0.2 (benchmarks and users read them).
        let (per, rate) = unit == "characters" ? ("char", "chars") : ("token", "tokens")
        csv = CSVLog(path: cfg.out + ".metrics.csv", header: "iteration,loss_nats,bits_per_\(per),seconds,\(rate)_per_s",
                     append: ck != nil)
    }

    mutating func step(_ at: RunPosition) throws(SwiftRNNError) -> (units: Int, metrics: String) {
        let it = at.step, B = cfg.batchSize, T = cfg.seqLength
        trainer.adam.learningRate = CharLMRun.learningRate(cfg, iteration: it)
        var loss = 0.0
        if cfg.tbptt > 0 {
            if pos + T + 1 > streamLen { pos = 0; state = nil }
            var grads: ModelWeights? = nil
            var w0 = 0
            while w0 < T {
                let len = min(cfg.tbptt, T - w0)
                let windows = (0..<B).map { b in Array(ids[(b * streamLen + pos + w0)..<(b * streamLen + pos + w0 + len + 1)]) }
                let r = trainer.lossAndGradients(windows: windows, state: state)
                var g = r.grads
                let share = Float(len) / Float(T)
                for (_, p) in g.parameterPaths { Kernels.scale(g[keyPath: p].mutableSpan(), by: share) }
                if grads == nil { grads = g } else { grads!.add(g) }
                loss += r.loss * Double(share)
                state = r.state
                w0 += len
            }
            pos += T
            trainer.apply(grads!)
        } else {
            var rng = RandomSource(seed: cfg.seed &* 0x2545_F491 &+ UInt64(it))
            let windows = (0..<B).map { _ -> [Int32] in
                let s = Int(rng.next() % UInt64(ids.count - T - 1))
                return Array(ids[s..<(s + T + 1)])
            }
            let r = trainer.lossAndGradients(windows: windows, state: nil)
            loss = r.loss
            trainer.apply(r.grads)
        }
        last = loss
        windowLoss += loss; windowCount += 1
        if (it + 1) % cfg.logEvery == 0 || it + 1 == cfg.iterations {
            let now = monotonicSeconds()
            let avg = windowLoss / Double(windowCount)
            csv.write([String(it + 1), fmt(avg, 5), fmt(avg / log(2.0), 5), fmt(now - t0, 1),
                       fmt(Double(windowCount * B * T) / (now - tLog), 1)])
            windowLoss = 0; windowCount = 0; tLog = now
        }
        return (1, idUnit == "characters" ? "loss \(fmt(loss, 4)) (\(fmt(loss / log(2.0), 3)) bits/char)"
                                         : "loss \(fmt(loss, 4)) (perplexity \(fmt(exp(loss), 1)))")
    }

    mutating func endPhase(_ phase: Int, seconds: Double) throws(SwiftRNNError) -> String? { evaluate?(trainer.weights) }

    func checkpointState() -> (progress: [String: Int], extra: [String: [Float]]) {
        var extra: [String: [Float]] = [:]
        if let state { extra["state.h"] = state.h.array; extra["state.c"] = state.c.array }
        return (["pos": pos], extra)
    }
}

/// A word-level language model on reviews (issue 14): `LanguageModelTask` over a `WordCorpus`,
/// with the held-out perplexity at the end.
public enum WordLMRun {
    public struct Result {
        public var lastLoss: Double
        public var heldOutPerplexity: Double?
        public var interrupted: Bool
        public var seconds: Double
    }

    public static func run(_ cfg: LanguageModelRunConfig, train: [String], heldOut: [String]) throws(SwiftRNNError) -> Result {
        try BLAS.ensureLoaded()
        let checkpoint = try TrainingLoop.resumable(cfg.out, resume: cfg.resume)
        let corpus = try WordCorpus(train: train, heldOut: heldOut, vocabularySize: cfg.vocabularySize,
                                    vocabulary: checkpoint?.config.vocab, seed: cfg.seed, threads: cfg.threads)
        let v = corpus.vocabulary
        let fresh = ModelConfig(kind: .wordlm, cell: cfg.cell, vocabSize: v.count, embeddingDim: cfg.embeddingDim,
                                hiddenSize: cfg.hiddenSize, numLayers: cfg.layers, bidirectional: false, head: ["fc"],
                                vocab: v.tokens)
        var perplexity: Double? = nil
        let reviews = Array(heldOut.prefix(cfg.heldOutReviews))
        var task = try LanguageModelTask(cfg, fresh: fresh, trainIds: corpus.trainIds, unit: "tokens", resumingFrom: checkpoint) { w in
            let (nats, n) = heldOutNLL(w, config: fresh, reviews: reviews, threads: cfg.threads)
            perplexity = n > 0 ? exp(nats / Double(n)) : nil
            return "held-out: \(reviews.count) reviews, \(n) tokens, perplexity \(perplexity.map { fmt($0, 2) } ?? "-")"
        }
        let r = try TrainingLoop.run(&task, out: cfg.out, from: checkpoint, observer: cfg.observer)
        return Result(lastLoss: task.last, heldOutPerplexity: perplexity, interrupted: r.interrupted, seconds: r.seconds)
    }

    /// Summed negative log-likelihood and predicted tokens of `reviews` (each from a zero state,
    /// its tokens and `<eos>` after the first token).
    public static func heldOutNLL(_ w: ModelWeights, config: ModelConfig, reviews: [String], threads: Int) -> (nats: Double, predicted: Int) {
        guard let m = try? WordLanguageModel(config: config, weights: w) else { return (0, 0) }
        let parts = Parallel.map(count: reviews.count, threads: threads) { m.negativeLogLikelihood(review: reviews[$0]) }
        return parts.reduce((0, 0)) { ($0.0 + $1.nats, $0.1 + $1.predicted) }
    }
}

extension CharLMTrainer {
    /// Clips (if asked) and takes one Adam step with `grads`.
    public mutating func apply(_ grads: ModelWeights) {
        adam.apply(grads, to: &weights, clipNorm: options.clipNorm)
    }
}
