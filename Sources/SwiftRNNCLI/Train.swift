import ArgumentParser
import SwiftRNN
import SwiftRNNTraining
#if canImport(Glibc)
import Glibc
#endif

extension Pooling: ExpressibleByArgument {}

extension CellKind: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "rnn": self = .rnnTanh
        default: self.init(rawValue: argument)
        }
    }
}

func commandLineText() -> String { CommandLine.arguments.joined(separator: " ") }

func rethrowing<R>(_ body: () throws(SwiftRNNError) -> R) throws -> R {
    do { return try body() } catch { throw RuntimeError(error.message) }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model from data.", subcommands: [TrainSentiment.self, TrainNGrams.self, TrainCharLM.self, TrainWordLM.self, TrainWordVec.self])
}

struct TrainSentiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sentiment",
        abstract: "Train a review classifier on an aclImdb folder (train/{pos,neg}); 20,000/5,000 train/validation split.")
    @Option(help: "The aclImdb folder (https://ai.stanford.edu/~amaas/data/sentiment/, unpacked).") var data: String
    @Option(help: "The model file to write (a checkpoint MODEL.ckpt and MODEL.metrics.csv go beside it).") var out: String
    @Option(help: "Epochs.") var epochs = 10
    @Option(name: .customLong("batch-size")) var batchSize = 32
    @Option(help: "Adam learning rate.") var lr: Float = 1e-3
    @Option(help: "Embedding size.") var embedding = 20
    @Option(help: "Recurrent hidden size.") var hidden = 64
    @Option(name: .customLong("fc-hidden"), help: "Hidden size of the head (fc1).") var fcHidden = 64
    @Option(help: "lstm, gru, rnn (tanh) or rnn_relu.") var cell = CellKind.lstm
    @Option(help: "Recurrent layers.") var layers = 1
    @Flag(help: "Bidirectional recurrent layers.") var bidirectional = false
    @Option(help: "Dropout on embeddings and head input (0: off).") var dropout: Float = 0
    @Option(name: .customLong("init-from"), help: "Start the encoder from a word language model (train wordlm), or from its checkpoint MODEL.ckpt (a run in progress): its vocabulary, embedding and layers; its sizes replace --embedding, --hidden, --cell and --layers.") var initFrom: String?
    @Option(name: .customLong("init-embedding"), help: "Start the embedding rows of the words these vectors cover (text: 'word x1 ... xD' per line, as train wordvec, word2vec, fastText .vec and GloVe write; D must equal --embedding), scaled to the random rows' size; the vocabulary is built as usual.") var initEmbedding: String?
    @Flag(name: .customLong("add-vector-words"), help: "With --init-embedding: the vocabulary also takes the vectors' words that the training reviews' (--max-vocab) lacks; untrained rows, but placed by the pretraining near words that are trained.") var addVectorWords = false
    @Option(name: .customLong("crop-fraction"), help: "Short-text augmentation: each epoch, cut this fraction of the training reviews to a random window of 5 to --crop-max tokens (0: off).") var cropFraction: Float = 0
    @Option(name: .customLong("crop-max"), help: "The longest window of --crop-fraction and --neutral-text.") var cropMax = 40
    @Option(name: .customLong("neutral-text"), help: "Outlier exposure: a UTF-8 text that is not reviews (a book, news); windows of 5 to --crop-max of its tokens join the training reviews with the label 0.5, so the network learns to stay undecided on text unlike its reviews.") var neutralText: String?
    @Option(name: .customLong("neutral-fraction"), help: "With --neutral-text: windows per training review.") var neutralFraction: Float = 0.25
    @Option(help: "What the head reads: last (the final state, the book's model) or concat (the final state, the max and the mean of the outputs, ULMFiT's concat pooling).") var pooling = Pooling.last
    @Option(name: .customLong("layer-decay"), help: "Discriminative learning rates: each layer group below the head (recurrent layers top down, then the embedding) learns this many times slower than the one above (ULMFiT: 2.6; 1: off).") var layerDecay: Float = 1
    @Flag(name: .customLong("gradual-unfreezing"), help: "Epoch 1 trains the head alone, each later epoch one more layer group, until all train (ULMFiT).") var gradualUnfreezing = false
    @Flag(name: .customLong("slanted-lr"), help: "Slanted triangular learning rate: a rise to --lr over the first 10% of the steps, then a linear fall to --lr/32 (ULMFiT; default: constant).") var slantedLR = false
    @Option(help: "Clip gradients to this global norm (0: off).") var clip: Float = 0
    @Option(name: .customLong("max-vocab"), help: "Keep the N most frequent tokens (0: all). With --init-from: add the training tokens among the N most frequent that the language model's vocabulary lacks (0: none).") var maxVocab = 0
    @Option(help: "Seed for initialisation, split, shuffling and dropout.") var seed: UInt64 = 1
    @Option(help: "Training reviews held out for validation, at most a fifth (0: train on all of them for exactly --epochs and keep the last epoch: the final fit of a recipe chosen on a split run).") var validation = 5000
    @Option(parsing: .unconditional, help: "Threads (0: all cores, the default).", transform: integer) var threads = 0
    func validate() throws {
        try checkThreads(threads)
        guard validation >= 0 else { throw ValidationError("--validation must be 0 or more") }
        guard layerDecay.isFinite, layerDecay >= 1 else { throw ValidationError("--layer-decay must be a number >= 1, not \(layerDecay)") }
        if cell == .jordan { throw ValidationError("a jordan cell trains in a charlm model only (swiftrnn train charlm --cell jordan)") }
        if initFrom != nil && initEmbedding != nil { throw ValidationError("--init-from brings its own embedding: give --init-from or --init-embedding, not both") }
        if addVectorWords && initEmbedding == nil { throw ValidationError("--add-vector-words needs --init-embedding") }
        guard cropFraction.isFinite, (0...1).contains(cropFraction) else { throw ValidationError("--crop-fraction must be 0...1, not \(cropFraction)") }
        guard (5...100_000).contains(cropMax) else { throw ValidationError("--crop-max must be 5...100000, not \(cropMax)") }
        guard neutralFraction.isFinite, (0...10).contains(neutralFraction) else { throw ValidationError("--neutral-fraction must be 0...10, not \(neutralFraction)") }
    }
    @Flag(help: "Continue from MODEL.ckpt.") var resume = false

    func run() throws {
        let all = try rethrowing { () throws(SwiftRNNError) in try IMDb.load(dir: data, split: "train") }
        let (train, valid) = IMDb.split(all, validation: validation, seed: seed)
        print("train \(train.count) reviews, validation \(valid.count); threads \(threads == 0 ? Parallel.cores : threads)")
        var c = SentimentRunConfig(out: out)
        c.epochs = epochs; c.batchSize = batchSize; c.learningRate = lr; c.embeddingDim = embedding
        c.hiddenSize = hidden; c.fcHidden = fcHidden; c.cell = cell; c.layers = layers
        c.bidirectional = bidirectional; c.dropout = dropout; c.clipNorm = clip > 0 ? clip : nil
        c.seed = seed; c.threads = threads; c.maxVocab = maxVocab > 0 ? maxVocab : nil; c.resume = resume
        c.split = TrainingSplit(seed: seed, validation: valid.count, reviews: all.count)
        c.initFrom = initFrom; c.initEmbedding = initEmbedding; c.addVectorWords = addVectorWords
        c.cropFraction = cropFraction; c.cropLength = 5...cropMax
        if let path = neutralText {
            c.neutral = try rethrowing { () throws(SwiftRNNError) in
                try NeutralText.windows(path: path, count: Int((neutralFraction * Float(train.count)).rounded()), length: 5...cropMax, seed: seed)
            }
            print("neutral: \(c.neutral.count) windows of \(path)")
        }
        c.pooling = pooling; c.layerDecay = layerDecay; c.gradualUnfreezing = gradualUnfreezing; c.slantedTriangular = slantedLR
        c.commandLine = commandLineText()
        c.observer = .terminal()
        let r = try rethrowing { () throws(SwiftRNNError) in try SentimentRun.run(c, train: train, valid: valid) }
        if let v = initEmbedding, !resume { print("embedding: \(r.initializedRows) rows started from \(v)") }
        if valid.isEmpty {
            print("no validation: the model is epoch \(r.bestEpoch); \(clock(r.seconds)); model: \(out)")
        } else {
            print("best validation accuracy \(fmt(r.bestValidAccuracy, 4)) (epoch \(r.bestEpoch)); \(clock(r.seconds)); model: \(out)")
        }
        if r.interrupted { throw ExitCode(130) }
    }
}

struct TrainNGrams: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ngrams",
        abstract: "Add a hashed n-gram term (tf-idf + logistic regression) to a trained sentiment model: a wide-and-deep review scorer.",
        discussion: "Fits the term on the same 20,000 training reviews as `train sentiment` (the split the model records, or --seed), then chooses its weight against the network's logit on the 5,000 validation reviews (lowest log loss) and writes the joined model (docs/model-format.md, n-gram term).")
    @Option(help: "The aclImdb folder.") var data: String
    @Option(help: "A sentiment model (train sentiment); any n-gram term it has is replaced.") var model: String
    @Option(help: "The model file to write.") var out: String
    @Option(help: "The longest n-gram, 1 to 3.") var order = 2
    @Option(help: "Hash buckets (rows of the table).") var buckets = 1 << 20
    @Option(help: "Inverse L2 regularization strength (scikit-learn's C).") var c = 10.0
    @Option(name: .customLong("min-df"), help: "Buckets seen in fewer training reviews are left out.") var minDF = 2
    @Flag(name: .customLong("naive-bayes"), help: "Scale each bucket's idf by the magnitude of its naive-Bayes log-count ratio on the training reviews (NBSVM's weighting; stored in ngram.idf, so the runtime is unchanged).") var naiveBayes = false
    @Option(help: "The train/validation split's seed, as train sentiment's --seed (default: the split the model records, metadata training_split; 1 for a model without one).") var seed: UInt64?
    @Flag(name: .customLong("refit-all"), help: "After choosing the mixing on the validation reviews, fit the term again on all the training reviews (train and validation: the data the tf-idf baseline is given in its test run) and join that, with the same mixing.") var refitAll = false
    @Option(name: .customLong("refit-network"), help: "With --refit-all: join the refitted term to this network instead of --model's, with the mixing chosen for --model (the same recipe trained on all the training reviews: train sentiment --validation 0).") var refitNetwork: String?
    @Flag(help: "Fit a shift of the summed logit on the validation reviews too (default: only the two scales; see NGramTrainer.mixing).") var shift = false
    @Option(parsing: .unconditional, help: "Threads (0: all cores, the default).", transform: integer) var threads = 0
    func validate() throws {
        try checkThreads(threads)
        guard (1...NGramBag.maxOrder).contains(order) else { throw ValidationError("--order must be 1...\(NGramBag.maxOrder)") }
        guard (1...NGramBag.maxBuckets).contains(buckets) else { throw ValidationError("--buckets must be 1...\(NGramBag.maxBuckets)") }
        guard c.isFinite, c > 0 else { throw ValidationError("--c must be a positive number") }
        guard minDF >= 1 else { throw ValidationError("--min-df must be at least 1") }
        if refitNetwork != nil && !refitAll { throw ValidationError("--refit-network needs --refit-all (the network trained on all the reviews goes with the term trained on all of them)") }
    }

    func run() throws {
        guard case let .sentiment(net) = try loadModel(model) else { throw RuntimeError("\(model) is not a sentiment model") }
        let all = try rethrowing { () throws(SwiftRNNError) in try IMDb.load(dir: data, split: "train") }
        let split = try networkSplit(net.config, reviews: all.count)
        let (train, valid) = IMDb.split(all, validation: split.validation, seed: split.seed)
        print("train \(train.count) reviews, validation \(valid.count) (seed \(split.seed)); threads \(threads == 0 ? Parallel.cores : threads)")
        var o = NGramTrainer.Options()
        o.order = order; o.buckets = buckets; o.c = c; o.minDF = minDF; o.naiveBayes = naiveBayes; o.threads = threads
        let t0 = monotonicSeconds()
        let fit = NGramTrainer.fit(texts: train.map(\.text), labels: train.map(\.label), options: o) { print($0) }
        print("logistic regression: \(fit.iterations) L-BFGS iterations\(fit.converged ? "" : " (not converged)"), training log loss \(fmt(fit.trainLoss, 4)), \(fmt(monotonicSeconds() - t0, 1)) s")
        // The network alone (any term the input model had is left out), and the term alone.
        let texts = valid.map(\.text), labels = valid.map(\.label)
        let netLogits = Parallel.map(count: texts.count, threads: threads) { net.logit(ids: net.encode(texts[$0])) }
        let term = Parallel.map(count: texts.count, threads: threads) { fit.bag.term(texts[$0])[0] + fit.bias }
        let mix = NGramTrainer.mixing(network: netLogits, term: term, labels: labels, shift: shift)
        func report(_ name: String, _ m: NGramTrainer.Mixing) {
            let e = NGramTrainer.evaluate(m, network: netLogits, term: term, labels: labels)
            print("validation: \(name): accuracy \(fmt(e.accuracy, 4)), log loss \(fmt(e.loss, 4))")
        }
        report("the network alone", .init(scale: 1, alpha: 0, shift: 0))
        report("the term alone", .init(scale: 0, alpha: 1, shift: 0))
        report("their sum", .init(scale: 1, alpha: 1, shift: 0))
        report("\(fmt(mix.scale, 3)) x network + \(fmt(mix.alpha, 3)) x term + \(fmt(mix.shift, 3)) (fitted here)", mix)
        var final = fit, finalNet = net, trainedBy = [net.config.trainedBy]
        if let path = refitNetwork {
            guard case let .sentiment(m) = try loadModel(path) else { throw RuntimeError("\(path) is not a sentiment model") }
            finalNet = m
            trainedBy.append(m.config.trainedBy)
            print("the final network: \(path)")
        }
        var weights = finalNet.weights
        weights.ngrams = nil
        if refitAll {
            let t1 = monotonicSeconds()
            final = NGramTrainer.fit(texts: all.map(\.text), labels: all.map(\.label), options: o) { print($0) }
            print("refitted on all \(all.count) training reviews: \(final.iterations) L-BFGS iterations\(final.converged ? "" : " (not converged)"), training log loss \(fmt(final.trainLoss, 4)), \(fmt(monotonicSeconds() - t1, 1)) s")
        }
        let (w, joinedConfig) = NGramTrainer.join(weights, config: finalNet.config, fit: final, mixing: mix)
        var config = joinedConfig
        config.trainedBy = (trainedBy + [commandLineText()]).compactMap { $0 }.joined(separator: " && ")
        let joined = try rethrowing { () throws(SwiftRNNError) in try Model.make(config: config, weights: w) }
        try rethrowing { () throws(SwiftRNNError) in try joined.save(to: out) }
        print("model: \(out)")
    }

    /// The split to stack on: the network's own (`training_split`), so that the mixing is
    /// chosen on reviews it never trained on. A model without the key (before 0.8.0, or
    /// exported from PyTorch) gets --seed or 1 and the default 5,000.
    func networkSplit(_ config: ModelConfig, reviews: Int) throws -> TrainingSplit {
        guard let text = config.trainingSplit else {
            return TrainingSplit(seed: seed ?? 1, validation: 5000, reviews: reviews)
        }
        guard let r = TrainingSplit(metadata: text) else {
            throw RuntimeError("\(model): model metadata training_split = '\(text)' is not 'seed=N validation=N reviews=N'")
        }
        if let seed, seed != r.seed {
            throw RuntimeError("--seed \(seed): \(model) was trained on the split of seed \(r.seed) (metadata training_split), so seed \(seed)'s validation reviews are mostly reviews it trained on; leave --seed out")
        }
        guard r.reviews == reviews else {
            throw RuntimeError("\(model) was trained on a split of \(r.reviews) reviews, \(data)/train has \(reviews): give the folder it was trained on")
        }
        guard r.validation > 0 else {
            throw RuntimeError("\(model) was trained on all \(reviews) training reviews (train sentiment --validation 0): none are left to choose the mixing on. Give a network trained on a split as --model and this one as --refit-network (with --refit-all)")
        }
        return r
    }
}

struct TrainCharLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "charlm",
        abstract: "Train a character model on a text (the book: The Mysterious Island, Project Gutenberg #1268).")
    @Option(help: "A UTF-8 text file.") var text: String
    @Option(help: "The model file to write.") var out: String
    @Option(help: "Iterations (batches).") var iterations = 10000
    @Option(name: .customLong("seq-length")) var seqLength = 40
    @Option(name: .customLong("batch-size")) var batchSize = 64
    @Option(help: "Adam learning rate.") var lr: Float = 0.005
    @Option(name: .customLong("final-lr"), help: "Decay the learning rate along a cosine to this value at the last iteration (default: constant).") var finalLR: Float?
    @Option(help: "Embedding size.") var embedding = 256
    @Option(help: "Hidden size.") var hidden = 512
    @Option(help: "lstm, gru, rnn (tanh), rnn_relu or jordan (output recurrence, docs/jordan.md).") var cell = CellKind.lstm
    @Option(name: .customLong("output-size"), help: "jordan: the width of each layer's output, which feeds back (default: --hidden).") var outputSize: Int?
    @Option(help: "Recurrent layers.") var layers = 1
    @Option(help: "Truncated BPTT: carry the state across consecutive windows, cutting the gradient every K steps (0: the book's independent windows).") var tbptt = 0
    @Option(help: "Clip gradients to this global norm (0: off).") var clip: Float = 0
    @Option(help: "Text start marker ('' for none).") var start = "THE MYSTERIOUS ISLAND"
    @Option(help: "Text end marker ('' for none).") var end = "End of the Project Gutenberg"
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Threads (0: all cores, the default).", transform: integer) var threads = 0
    func validate() throws {
        try checkThreads(threads)
        if cell != .jordan, outputSize != nil { throw ValidationError("--output-size is for --cell jordan") }
        if let o = outputSize, !(1...65536).contains(o) { throw ValidationError("--output-size must be 1...65536") }
    }
    @Flag(help: "Continue from MODEL.ckpt.") var resume = false

    func run() throws {
        let corpus = try rethrowing { () throws(SwiftRNNError) in
            try CharCorpus(path: text, startMarker: start.isEmpty ? nil : start, endMarker: end.isEmpty ? nil : end)
        }
        print("text \(corpus.text.count) characters, \(corpus.characters.count) distinct; training on \(corpus.trainIds.count), holding out \(corpus.heldOutIds.count)")
        var c = CharLMRunConfig(out: out)
        c.iterations = iterations; c.seqLength = seqLength; c.batchSize = batchSize; c.learningRate = lr
        c.embeddingDim = embedding; c.hiddenSize = hidden; c.cell = cell; c.layers = layers; c.tbptt = tbptt
        c.clipNorm = clip > 0 ? clip : nil; c.seed = seed; c.threads = threads; c.resume = resume
        c.finalLearningRate = finalLR
        c.outputSize = cell == .jordan ? outputSize ?? hidden : 0
        c.commandLine = commandLineText()
        c.observer = .terminal()
        let r = try rethrowing { () throws(SwiftRNNError) in try CharLMRun.run(c, corpus: corpus) }
        print("last loss \(fmt(r.lastLoss, 4)) nats/char; \(clock(r.seconds)); model: \(out)")
        if r.interrupted { throw ExitCode(130) }
    }
}

struct TrainWordLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wordlm",
        abstract: "Train a word-level language model on reviews (pretraining a review scorer's encoder).",
        discussion: "Trains on aclImdb's train split (labels unused) and, with --unsup, the 50,000 "
            + "unlabeled reviews (aclImdb/train/unsup); never on the test split, whose first reviews "
            + "(--held-out) give the held-out perplexity at the end. Streams of reviews (each ended by "
            + "<eos>) with the state carried and the gradient cut every --tbptt tokens. Ctrl-C writes a "
            + "checkpoint; --resume continues exactly. docs/pretraining.md has the plan of runs.")
    @Option(help: "The aclImdb folder.") var data: String
    @Option(help: "A folder of unlabeled reviews (e.g. aclImdb/train/unsup).") var unsup: String?
    @Option(help: "The model file to write.") var out: String
    @Option(help: "Iterations (batches).") var iterations = 20000
    @Option(name: .customLong("seq-length"), help: "Tokens per window.") var seqLength = 35
    @Option(name: .customLong("batch-size"), help: "Streams.") var batchSize = 32
    @Option(help: "Adam learning rate.") var lr: Float = 0.002
    @Option(name: .customLong("final-lr"), help: "Decay the learning rate along a cosine to this value at the last iteration (default: constant).") var finalLR: Float?
    @Option(help: "Embedding size.") var embedding = 128
    @Option(help: "Hidden size.") var hidden = 256
    @Option(help: "lstm, gru, rnn (tanh) or rnn_relu.") var cell = CellKind.lstm
    @Option(help: "Recurrent layers.") var layers = 1
    @Option(name: .customLong("vocab-size"), help: "Vocabulary entries, <pad> <unk> <eos> included (the softmax's width).") var vocabSize = 8000
    @Option(help: "Cut the gradient every K tokens (the state is always carried).") var tbptt = 35
    @Option(help: "Clip gradients to this global norm (0: off).") var clip: Float = 1
    @Option(name: .customLong("held-out"), help: "Test reviews whose perplexity is reported at the end.") var heldOut = 500
    @Option(name: .customLong("checkpoint-every"), help: "Iterations between checkpoints.") var checkpointEvery = 500
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Threads (0: all cores, the default).", transform: integer) var threads = 0
    func validate() throws {
        try checkThreads(threads)
        guard vocabSize >= 4, tbptt >= 1, seqLength >= 1, batchSize >= 1, iterations >= 1, heldOut >= 0, checkpointEvery >= 1 else {
            throw ValidationError("--vocab-size >= 4; --tbptt, --seq-length, --batch-size, --iterations, --checkpoint-every >= 1; --held-out >= 0")
        }
        if cell == .jordan { throw ValidationError("a jordan cell trains in a charlm model only (swiftrnn train charlm --cell jordan)") }
    }
    @Flag(help: "Continue from MODEL.ckpt.") var resume = false

    func run() throws {
        let (train, test) = try rethrowing { () throws(SwiftRNNError) in
            var train = try IMDb.load(dir: data, split: "train").map(\.text)
            if let unsup { train += try IMDb.loadTexts(folder: unsup) }
            var test = try IMDb.load(dir: data, split: "test").map(\.text)
            var rng = RandomSource(seed: 99)
            shuffle(&test, &rng)          // pos and neg mixed: any prefix is a fair sample
            return (train, test)
        }
        print("train \(train.count) reviews\(unsup == nil ? "" : " (with the unlabeled ones)"); held out \(min(heldOut, test.count)) test reviews")
        var c = LanguageModelRunConfig(out: out)
        c.iterations = iterations; c.seqLength = seqLength; c.batchSize = batchSize; c.learningRate = lr
        c.embeddingDim = embedding; c.hiddenSize = hidden; c.cell = cell; c.layers = layers; c.tbptt = tbptt
        c.clipNorm = clip > 0 ? clip : nil; c.seed = seed; c.threads = threads; c.resume = resume
        c.finalLearningRate = finalLR; c.vocabularySize = vocabSize; c.heldOutReviews = heldOut
        c.checkpointEvery = checkpointEvery
        c.commandLine = commandLineText()
        c.observer = .terminal()
        let r = try rethrowing { () throws(SwiftRNNError) in try WordLMRun.run(c, train: train, heldOut: test) }
        print("last loss \(fmt(r.lastLoss, 4)) nats/token; \(clock(r.seconds)); model: \(out)")
        if r.interrupted { throw ExitCode(130) }
    }
}

struct TrainWordVec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wordvec",
        abstract: "Learn word vectors from reviews (word2vec skip-gram) to start a classifier's embedding.",
        discussion: "Trains on aclImdb's train split (labels unused) and, with --unsup, the 50,000 "
            + "unlabeled reviews; never on the test split. Writes word2vec's text format, which "
            + "train sentiment --init-embedding reads (as it reads fastText's .vec and GloVe files). "
            + "One thread, seeded: the same command writes the same file.")
    @Option(help: "The aclImdb folder.") var data: String
    @Option(help: "A folder of unlabeled reviews (e.g. aclImdb/train/unsup).") var unsup: String?
    @Option(help: "The vectors file to write.") var out: String
    @Option(help: "Numbers per word (train sentiment's --embedding).") var dim = 64
    @Option(help: "Context words on each side, at most.") var window = 5
    @Option(help: "Negative samples per context word.") var negatives = 5
    @Option(help: "Passes over the text.") var epochs = 5
    @Option(name: .customLong("min-count"), help: "Leave out words seen fewer times.") var minCount = 5
    @Option(help: "Subsampling threshold of frequent words (0: off).") var subsample = 1e-4
    @Option(help: "Starting learning rate (falls linearly to 1/10,000 of it).") var lr: Float = 0.025
    @Option(help: "Seed.") var seed: UInt64 = 1
    func validate() throws {
        var c = WordVectorRunConfig(out: out)
        c.dim = dim; c.window = window; c.negatives = negatives; c.epochs = epochs; c.minCount = minCount
        c.subsample = subsample; c.learningRate = lr
        if let p = c.problem() { throw ValidationError(p) }
    }

    func run() throws {
        let texts = try rethrowing { () throws(SwiftRNNError) in
            var t = try IMDb.load(dir: data, split: "train").map(\.text)
            if let unsup { t += try IMDb.loadTexts(folder: unsup) }
            return t
        }
        print("\(texts.count) reviews\(unsup == nil ? "" : " (with the unlabeled ones)"); one thread")
        var c = WordVectorRunConfig(out: out)
        c.dim = dim; c.window = window; c.negatives = negatives; c.epochs = epochs; c.minCount = minCount
        c.subsample = subsample; c.learningRate = lr; c.seed = seed
        c.observer = .terminal()
        let r = try rethrowing { () throws(SwiftRNNError) in try WordVectorRun.run(c, texts: texts) }
        if r.interrupted { print("stopped; nothing written"); throw ExitCode(130) }
        print("\(r.words) words, \(r.tokens) tokens per pass; \(clock(r.seconds)); vectors: \(out)")
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on held-out data.", subcommands: [EvalSentiment.self, EvalCharLM.self, EvalWordLM.self])
}

struct EvalSentiment: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sentiment", abstract: "Accuracy, loss and confusion matrix on aclImdb's test split.")
    @Option(help: "The aclImdb folder.") var data: String
    @Option(help: "A sentiment model.") var model: String
    @Option(help: "Split to evaluate.") var split = "test"
    @Option(parsing: .unconditional, help: "Threads (0: all cores, the default).", transform: integer) var threads = 0
    func validate() throws { try checkThreads(threads) }

    func run() throws {
        let loaded = try loadModel(model)
        guard case let .sentiment(m) = loaded else { throw RuntimeError("\(model) is not a sentiment model") }
        let reviews = try rethrowing { () throws(SwiftRNNError) in try IMDb.load(dir: data, split: split) }
        let t0 = monotonicSeconds()
        let probs = m.scoreBatch(reviews.map(\.text), threads: threads)
        let seconds = monotonicSeconds() - t0
        var tp = 0, tn = 0, fp = 0, fn = 0
        var loss = 0.0
        for (p, r) in zip(probs, reviews) {
            let pos = p >= 0.5
            switch (pos, r.label > 0.5) {
            case (true, true): tp += 1
            case (false, false): tn += 1
            case (true, false): fp += 1
            case (false, true): fn += 1
            }
            let q = Double(min(max(p, 1e-7), 1 - 1e-7))
            loss -= r.label > 0.5 ? log(q) : log(1 - q)
        }
        let n = reviews.count
        print("\(split): \(n) reviews, accuracy \(fmt(Double(tp + tn) / Double(n), 4)), loss \(fmt(loss / Double(n), 4)) (BCE)")
        print("confusion matrix (rows: true label, columns: predicted)")
        print("             pred neg  pred pos")
        print("true neg   \(pad(tn, 10))\(pad(fp, 10))")
        print("true pos   \(pad(fn, 10))\(pad(tp, 10))")
        print("scored in \(fmt(seconds, 2)) s (\(fmt(Double(n) / seconds, 0)) reviews/s, threads \(threads == 0 ? Parallel.cores : threads), \(loaded.weightStorage) weights, kernels \(Kernels.simdLevel))")
    }

    func pad(_ v: Int, _ w: Int) -> String { let s = String(v); return String(repeating: " ", count: max(0, w - s.count)) + s }
}

struct EvalWordLM: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wordlm", abstract: "Held-out perplexity on aclImdb's test reviews.")
    @Option(help: "The aclImdb folder.") var data: String
    @Option(help: "A wordlm model.") var model: String
    @Option(help: "Test reviews to score (the same seeded sample as training's --held-out).") var reviews = 500
    @Option(parsing: .unconditional, help: "Threads (0: all cores, the default).", transform: integer) var threads = 0
    func validate() throws { try checkThreads(threads) }

    func run() throws {
        guard case let .wordlm(m) = try loadModel(model) else { throw RuntimeError("\(model) is not a wordlm model") }
        var test = try rethrowing { () throws(SwiftRNNError) in try IMDb.load(dir: data, split: "test").map(\.text) }
        var rng = RandomSource(seed: 99)
        shuffle(&test, &rng)
        let t0 = monotonicSeconds()
        let (nats, n) = WordLMRun.heldOutNLL(m.weights, config: m.config, reviews: Array(test.prefix(reviews)), threads: threads)
        print("held-out: \(min(reviews, test.count)) reviews, \(n) tokens, \(fmt(nats / Double(max(n, 1)), 4)) nats/token, perplexity \(fmt(exp(nats / Double(max(n, 1))), 2)) (\(fmt(monotonicSeconds() - t0, 1)) s)")
    }
}

struct EvalCharLM: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "charlm", abstract: "Held-out bits per character (the last 5% of the sliced text).")
    @Option(help: "The text the model was trained on.") var text: String
    @Option(help: "A charlm model.") var model: String
    @Option(help: "Text start marker ('' for none).") var start = "THE MYSTERIOUS ISLAND"
    @Option(help: "Text end marker ('' for none).") var end = "End of the Project Gutenberg"

    func run() throws {
        guard case let .charlm(m) = try loadModel(model) else { throw RuntimeError("\(model) is not a charlm model") }
        let corpus = try rethrowing { () throws(SwiftRNNError) in
            try CharCorpus(path: text, startMarker: start.isEmpty ? nil : start, endMarker: end.isEmpty ? nil : end)
        }
        let t0 = monotonicSeconds()
        let r = try rethrowing { () throws(SwiftRNNError) in try m.negativeLogLikelihood(corpus.heldOut) }
        let nats = r.nats / Double(max(r.predicted, 1))
        print("held-out: \(r.predicted) characters predicted, \(fmt(nats, 4)) nats/char, \(fmt(nats / log(2.0), 4)) bits/char (\(fmt(monotonicSeconds() - t0, 1)) s)")
    }
}
