import Foundation
import XCTest
import SwiftRNNABI
@testable import CSwiftRNN
@testable import SwiftRNN
@testable import SwiftRNNTraining

/// Training on tiny synthetic data: it learns, it resumes exactly, it writes usable models.
final class TrainingTests: XCTestCase {
    static let positive = ["great", "excellent", "wonderful", "loved", "superb", "brilliant"]
    static let negative = ["terrible", "awful", "boring", "worst", "dull", "horrible"]
    static let filler = ["the", "movie", "film", "plot", "was", "a", "it", "and", "i", "this", "story", "acting"]

    /// Reviews whose label is decided by one keyword among filler words.
    static func keywordReviews(_ n: Int, seed: UInt64) -> [Review] {
        var rng = RandomSource(seed: seed)
        func pick(_ a: [String]) -> String { a[Int(rng.next() % UInt64(a.count))] }
        return (0..<n).map { k in
            let label = k % 2
            var words = (0..<(3 + Int(rng.next() % 10))).map { _ in pick(filler) }
            words.insert(pick(label == 1 ? positive : negative), at: Int(rng.next() % UInt64(words.count + 1)))
            return Review(text: "<br />" + words.joined(separator: " ") + ".", label: Float(label))
        }
    }

    func tmp(_ name: String) -> String { scratchPath("tests", name) }

    func testSentimentLearnsAKeywordRule() throws {
        var c = SentimentRunConfig(out: tmp("kw.safetensors"))
        c.epochs = 4; c.batchSize = 16; c.learningRate = 0.01; c.embeddingDim = 8; c.hiddenSize = 8; c.fcHidden = 8
        c.threads = 2; c.seed = 3
        let r = try SentimentRun.run(c, train: Self.keywordReviews(600, seed: 1), valid: Self.keywordReviews(200, seed: 2))
        XCTAssertGreaterThanOrEqual(r.bestValidAccuracy, 0.95)
        guard case let .sentiment(m) = try Model.load(path: c.out) else { return XCTFail() }
        XCTAssertGreaterThan(m.score("a wonderful story, i loved it"), 0.5)
        XCTAssertLessThan(m.score("a boring and dull plot"), 0.5)
        let test = Self.keywordReviews(200, seed: 99)
        let acc = Double(zip(m.scoreBatch(test.map(\.text)), test).filter { ($0.0 > 0.5) == ($0.1.label > 0.5) }.count) / 200
        XCTAssertGreaterThanOrEqual(acc, 0.95)
    }

    /// The split a network trained on travels in its file (`training_split`), through a
    /// conversion, and parses back; anything else in the key parses to nil (train ngrams then
    /// refuses the model with a message).
    func testTrainingSplitIsSavedAndParsesBack() throws {
        let split = TrainingSplit(seed: 18_446_744_073_709_551_615, validation: 40, reviews: 200)
        XCTAssertEqual(split.metadata, "seed=18446744073709551615 validation=40 reviews=200")
        XCTAssertEqual(TrainingSplit(metadata: split.metadata), split)
        XCTAssertEqual(TrainingSplit(metadata: "reviews=200 seed=3 validation=0"), TrainingSplit(seed: 3, validation: 0, reviews: 200))
        for bad in ["", "seed=1", "seed=1 validation=5 reviews=4", "seed=-1 validation=1 reviews=9",
                    "seed=1 seed=1 validation=1", "seed=1 validation=1 reviews=9 x=1", "seed=1  validation=1 reviews=9",
                    "seed=1 validation=1 reviews=9.0", "seed=1 validation= reviews=9", "seed:1 validation=1 reviews=9"] {
            XCTAssertNil(TrainingSplit(metadata: bad), bad)
        }
        var c = SentimentRunConfig(out: tmp("split.safetensors"))
        c.epochs = 1; c.embeddingDim = 4; c.hiddenSize = 4; c.fcHidden = 4; c.threads = 1
        c.split = TrainingSplit(seed: 7, validation: 20, reviews: 100)
        _ = try SentimentRun.run(c, train: Self.keywordReviews(80, seed: 1), valid: Self.keywordReviews(20, seed: 2))
        let m = try Model.load(path: c.out)
        XCTAssertEqual(m.config.trainingSplit, "seed=7 validation=20 reviews=100")
        let half = tmp("split-i8.safetensors")
        try m.save(to: half, dtype: .i8)
        XCTAssertEqual(try Model.load(path: half).config.trainingSplit, "seed=7 validation=20 reviews=100")
    }

    func testCharModelMemorisesAString() throws {
        let text = "THE MYSTERIOUS ISLAND\n" + String(repeating: "the sea was calm. ", count: 40) + "End of the Project Gutenberg"
        let path = tmp("corpus.txt")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let corpus = try CharCorpus(path: path)
        var c = CharLMRunConfig(out: tmp("lm.safetensors"))
        c.iterations = 150; c.batchSize = 8; c.seqLength = 16; c.embeddingDim = 8; c.hiddenSize = 24
        c.learningRate = 0.02; c.threads = 2; c.tbptt = 8; c.clipNorm = 5
        let r = try CharLMRun.run(c, corpus: corpus)
        XCTAssertLessThan(r.lastLoss, 0.3, "nats/char on a repeated sentence")
        guard case let .charlm(m) = try Model.load(path: c.out) else { return XCTFail() }
        let out = try Generator.sample(model: m, prime: "the sea", count: 30, parameters: .init(greedy: true))
        XCTAssertTrue(out.hasPrefix("the sea was calm. the sea was"), out)
        let (nats, n) = try m.negativeLogLikelihood(corpus.heldOut)
        XCTAssertLessThan(nats / Double(n), 0.5)
    }

    func testResumedSentimentRunEqualsAnUninterruptedOne() throws {
        let train = Self.keywordReviews(120, seed: 5), valid = Self.keywordReviews(40, seed: 6)
        func config(_ name: String, epochs: Int, resume: Bool) -> SentimentRunConfig {
            var c = SentimentRunConfig(out: tmp(name))
            c.epochs = epochs; c.batchSize = 16; c.embeddingDim = 6; c.hiddenSize = 5; c.fcHidden = 4
            c.dropout = 0.2; c.clipNorm = 1; c.threads = 2; c.resume = resume; c.seed = 11
            c.cell = .gru; c.bidirectional = true
            c.cropFraction = 0.5; c.cropLength = 3...6     // crops too resume exactly
            return c
        }
        _ = try SentimentRun.run(config("straight.safetensors", epochs: 3, resume: false), train: train, valid: valid)
        _ = try SentimentRun.run(config("resumed.safetensors", epochs: 1, resume: false), train: train, valid: valid)
        _ = try SentimentRun.run(config("resumed.safetensors", epochs: 3, resume: true), train: train, valid: valid)
        let a = try Checkpoint.load(path: tmp("straight.safetensors.ckpt")), b = try Checkpoint.load(path: tmp("resumed.safetensors.ckpt"))
        XCTAssertEqual(a.adam.step, b.adam.step)
        for (name, p) in a.weights.parameterPaths {
            XCTAssertEqual(a.weights[keyPath: p], b.weights[keyPath: p], name)
        }
    }

    /// `--crop-fraction`: about that fraction of the reviews is cut to a window of the asked
    /// lengths, the same window for the same seed, epoch and review (the resumed run above
    /// crops too); a review shorter than the window stays whole; off, nothing is cut.
    func testCropsAreWindowsOfTheAskedLengthsInTheAskedFraction() throws {
        var c = SentimentRunConfig(out: tmp("crop.safetensors"))
        c.cropFraction = 0.3; c.cropLength = 5...12; c.embeddingDim = 4; c.hiddenSize = 4
        let task = try SentimentTask(c, train: Self.keywordReviews(10, seed: 1), valid: [], resumingFrom: nil)
        let ids = (0..<100).map { Int32($0) }
        var cut = 0, lengths = Set<Int>(), epochsDiffer = false
        for r in 0..<2000 {
            let w = task.crop(ids, review: r, epoch: 3)
            XCTAssertEqual(w, task.crop(ids, review: r, epoch: 3))
            if w != task.crop(ids, review: r, epoch: 4) { epochsDiffer = true }
            if w.count < 100 {
                cut += 1
                lengths.insert(w.count)
                XCTAssertEqual(w, Array(ids[Int(w[0])..<(Int(w[0]) + w.count)]))
            }
            XCTAssertEqual(task.crop([7, 8, 9], review: r, epoch: 3), [7, 8, 9])
        }
        XCTAssertEqual(Double(cut) / 2000, 0.3, accuracy: 0.04)
        XCTAssertEqual(lengths, Set(5...12))
        XCTAssertTrue(epochsDiffer)
        c.cropFraction = 0
        let off = try SentimentTask(c, train: Self.keywordReviews(10, seed: 1), valid: [], resumingFrom: nil)
        for r in 0..<100 { XCTAssertEqual(off.crop(ids, review: r, epoch: 0), ids) }
    }

    /// `NeutralText`: the asked number of windows, of the asked lengths, each a run of the
    /// file's tokens, the same for the same seed; a file shorter than a window is an error.
    func testNeutralWindowsAreRunsOfTheFilesTokens() throws {
        let path = tmp("neutral.txt")
        let words = (0..<300).map { "w\($0)" }
        try ("\u{FEFF}" + words.joined(separator: " ") + "\r\n").write(toFile: path, atomically: true, encoding: .utf8)
        let w = try NeutralText.windows(path: path, count: 500, length: 5...9, seed: 4)
        XCTAssertEqual(w.count, 500)
        XCTAssertEqual(w, try NeutralText.windows(path: path, count: 500, length: 5...9, seed: 4))
        XCTAssertNotEqual(w, try NeutralText.windows(path: path, count: 500, length: 5...9, seed: 5))
        var lengths = Set<Int>()
        for text in w {
            let t = Tokenizer.tokenizeToStrings(text)
            lengths.insert(t.count)
            let first = Int(t[0].dropFirst())!
            XCTAssertEqual(t, Array(words[first..<(first + t.count)]))
        }
        XCTAssertEqual(lengths, Set(5...9))
        XCTAssertThrowsError(try NeutralText.windows(path: path, count: 1, length: 5...301, seed: 4))
        XCTAssertThrowsError(try NeutralText.windows(path: tmp("missing.txt"), count: 1, length: 5...9, seed: 4))
    }

    /// Outlier exposure does what it is for: with three negative reviews to each positive one,
    /// a network calls text without a keyword negative (the prior); trained beside neutral
    /// windows of such text, it stays near 0.5 on it, and still reads the keywords.
    func testNeutralWindowsTeachTheNetworkToStayUndecided() throws {
        func reviews(_ n: Int, seed: UInt64) -> [Review] {
            Self.keywordReviews(n, seed: seed).enumerated().filter { $0.element.label < 0.5 || $0.offset % 6 == 1 }.map(\.element)
        }
        var rng = RandomSource(seed: 9)
        func filler() -> String {
            (0..<(5 + Int(rng.next() % 8))).map { _ in Self.filler[Int(rng.next() % UInt64(Self.filler.count))] }.joined(separator: " ")
        }
        let neutral = (0..<400).map { _ in filler() }
        let probes = (0..<50).map { _ in filler() }
        func logit(_ windows: [String]) throws -> Float {
            var c = SentimentRunConfig(out: tmp("oe-\(windows.count).safetensors"))
            c.epochs = 4; c.batchSize = 16; c.learningRate = 0.01; c.embeddingDim = 8; c.hiddenSize = 8; c.fcHidden = 8
            c.threads = 1; c.seed = 3; c.neutral = windows
            let r = try SentimentRun.run(c, train: reviews(1200, seed: 1), valid: reviews(400, seed: 2))
            XCTAssertGreaterThanOrEqual(r.bestValidAccuracy, 0.95)
            guard case let .sentiment(m) = try Model.load(path: c.out) else { XCTFail(); return .nan }
            XCTAssertGreaterThan(m.score("a wonderful story, i loved it"), 0.5)
            XCTAssertLessThan(m.score("a boring and dull plot"), 0.5)
            // The mean |logit| over keyword-free texts the training never saw.
            let z = m.scoreBatch(probes).map { abs(log($0 / (1 - $0))) }.reduce(0, +) / Float(probes.count)
            print("neutral windows: \(windows.count), mean |logit| \(z)")
            return z
        }
        let without = try logit([]), with = try logit(neutral)
        XCTAssertGreaterThan(without, 1.5)   // measured 3.8
        XCTAssertLessThan(with, without / 3)  // measured 0.9
    }

    /// `train sentiment --validation 0`: every review trains, and the file is the last epoch.
    func testWithoutValidationTheFileIsTheLastEpoch() throws {
        let reviews = Self.keywordReviews(100, seed: 7)
        let (train, valid) = IMDb.split(reviews, validation: 0, seed: 1)
        XCTAssertEqual(train.count, 100)
        XCTAssertTrue(valid.isEmpty)
        var c = SentimentRunConfig(out: tmp("all.safetensors"))
        c.epochs = 2; c.batchSize = 16; c.embeddingDim = 6; c.hiddenSize = 5; c.fcHidden = 4; c.threads = 1; c.seed = 2
        let r = try SentimentRun.run(c, train: train, valid: valid)
        XCTAssertEqual(r.bestEpoch, 2)
        guard case let .sentiment(m) = try Model.load(path: c.out) else { return XCTFail() }
        let last = try Checkpoint.load(path: c.out + ".ckpt")
        for (name, p) in last.weights.parameterPaths { XCTAssertEqual(m.weights[keyPath: p], last.weights[keyPath: p], name) }
        XCTAssertTrue(m.config.description?.contains("no validation") ?? false)
    }

    func testSubnormalsAreFlushedOnlyInside() {
        let tiny = [Float](repeating: 1.5e-38, count: 1)   // normal; half of it is subnormal
        XCTAssertGreaterThan(tiny[0] * 0.5, 0)
        let inside = Kernels.withSubnormalsFlushed { tiny[0] * 0.5 }
        #if arch(x86_64) || arch(arm64)
        XCTAssertEqual(inside, 0)
        #endif
        XCTAssertGreaterThan(tiny[0] * 0.5, 0, "the mode is restored")
        _ = inside
    }

    func testResumedCharRunEqualsAnUninterruptedOne() throws {
        let text = "THE MYSTERIOUS ISLAND\n" + String(repeating: "abc def ghi. ", count: 30) + "End of the Project Gutenberg"
        let path = tmp("corpus2.txt")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let corpus = try CharCorpus(path: path)
        func config(_ name: String, iterations: Int, resume: Bool, tbptt: Int) -> CharLMRunConfig {
            var c = CharLMRunConfig(out: tmp(name))
            c.iterations = iterations; c.batchSize = 4; c.seqLength = 6; c.embeddingDim = 4; c.hiddenSize = 6
            c.threads = 2; c.resume = resume; c.tbptt = tbptt; c.checkpointEvery = 3
            return c
        }
        for tbptt in [0, 3] {
            _ = try CharLMRun.run(config("s\(tbptt).safetensors", iterations: 8, resume: false, tbptt: tbptt), corpus: corpus)
            _ = try CharLMRun.run(config("r\(tbptt).safetensors", iterations: 5, resume: false, tbptt: tbptt), corpus: corpus)
            _ = try CharLMRun.run(config("r\(tbptt).safetensors", iterations: 8, resume: true, tbptt: tbptt), corpus: corpus)
            // The metrics file keeps 0.2's columns (benchmarks/harness/w4_training.py reads them).
            let csv = try String(contentsOfFile: tmp("s\(tbptt).safetensors.metrics.csv"), encoding: .utf8)
            XCTAssertTrue(csv.hasPrefix("iteration,loss_nats,bits_per_char,seconds,chars_per_s\n"), csv)
            let a = try Checkpoint.load(path: tmp("s\(tbptt).safetensors.ckpt")), b = try Checkpoint.load(path: tmp("r\(tbptt).safetensors.ckpt"))
            for (name, p) in a.weights.parameterPaths { XCTAssertEqual(a.weights[keyPath: p], b.weights[keyPath: p], "tbptt \(tbptt) \(name)") }
        }
    }

    /// Issue 14: the word model trains on review streams, resumes exactly, beats the uniform
    /// distribution on held-out reviews, and loads as a wordlm model that scoring calls refuse.
    func testWordModelTrainsResumesExactlyAndReportsHeldOutPerplexity() throws {
        // Reviews that walk a cycle of 7 words from a random start: after the first word, the
        // next is certain but for where the review ends.
        let cycle = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
        func reviews(_ n: Int, seed: UInt64) -> [String] {
            var rng = RandomSource(seed: seed)
            return (0..<n).map { _ in
                let start = Int(rng.next() % 7), len = 4 + Int(rng.next() % 9)
                return (0..<len).map { cycle[(start + $0) % 7] }.joined(separator: " ")
            }
        }
        let train = reviews(400, seed: 4), heldOut = reviews(40, seed: 5)
        func config(_ name: String, iterations: Int, resume: Bool) -> LanguageModelRunConfig {
            var c = LanguageModelRunConfig(out: tmp(name))
            c.iterations = iterations; c.batchSize = 4; c.seqLength = 12; c.tbptt = 6; c.embeddingDim = 8
            c.hiddenSize = 16; c.vocabularySize = 40; c.heldOutReviews = 30; c.threads = 2; c.resume = resume
            c.checkpointEvery = 4; c.learningRate = 0.02; c.clipNorm = 1
            return c
        }
        let straight = try WordLMRun.run(config("w.safetensors", iterations: 60, resume: false), train: train, heldOut: heldOut)
        let early = try WordLMRun.run(config("wr.safetensors", iterations: 25, resume: false), train: train, heldOut: heldOut)
        let resumed = try WordLMRun.run(config("wr.safetensors", iterations: 60, resume: true), train: train, heldOut: heldOut)
        let a = try Model.load(path: tmp("w.safetensors")), b = try Model.load(path: tmp("wr.safetensors"))
        for (name, p) in a.weights.parameterPaths { XCTAssertEqual(a.weights[keyPath: p], b.weights[keyPath: p], name) }
        XCTAssertEqual(straight.heldOutPerplexity, resumed.heldOutPerplexity)
        let vocab = a.config.vocabSize
        XCTAssertEqual(a.config.kind, .wordlm)
        XCTAssertEqual(a.config.vocab.last, WordLanguageModel.endOfReviewToken)
        let ppl = try XCTUnwrap(straight.heldOutPerplexity)
        // Uniform over the vocabulary would be 10; the cycle leaves little to guess.
        XCTAssertTrue(ppl.isFinite && ppl < Double(vocab) / 3, "perplexity \(ppl) vs a vocabulary of \(vocab)")
        XCTAssertLessThan(ppl, try XCTUnwrap(early.heldOutPerplexity))
        guard case .wordlm = a else { return XCTFail("not loaded as a wordlm model") }
        // From C: it loads and says what it is; scoring and sampling refuse it.
        var m: OpaquePointer? = nil
        XCTAssertEqual(swiftrnn_model_load(tmp("w.safetensors"), &m), 0)
        defer { swiftrnn_model_free(m) }
        var info = swiftrnn_model_info()
        info.struct_size = MemoryLayout<swiftrnn_model_info>.size
        XCTAssertEqual(withUnsafeMutableBytes(of: &info) { swiftrnn_model_get_info(m, $0.baseAddress) }, 0)
        XCTAssertEqual(info.kind, SWIFTRNN_KIND_WORDLM)
        var p: Float = 0
        XCTAssertEqual(swiftrnn_score_sentiment(m, "alpha bravo", 11, &p), Int32(SWIFTRNN_ERR_WRONG_KIND.rawValue))

        // A classifier started from it (learning rate 0: the weights stay where they started)
        // has its vocabulary, embedding and forward layers; the reverse direction is new.
        let labelled = train.enumerated().map { Review(text: $1, label: Float($0 % 2)) }
        for bi in [false, true] {
            var c = SentimentRunConfig(out: tmp("ft\(bi).safetensors"))
            c.initFrom = tmp("w.safetensors"); c.epochs = 1; c.learningRate = 0; c.bidirectional = bi; c.threads = 2
            _ = try SentimentRun.run(c, train: Array(labelled.prefix(200)), valid: Array(labelled.suffix(50)))
            let ft = try Model.load(path: tmp("ft\(bi).safetensors"))
            XCTAssertEqual(ft.config.vocab, a.config.vocab)
            XCTAssertEqual(ft.weights.embedding.weight, a.weights.embedding.weight)
            XCTAssertEqual(ft.weights.rnn.weights[0].wHH, a.weights.rnn.weights[0].wHH)
            XCTAssertEqual(ft.weights.rnn.weights[0].wIH, a.weights.rnn.weights[0].wIH)
            if bi { XCTAssertNotEqual(ft.weights.rnn.weights[1].wHH, a.weights.rnn.weights[0].wHH) }
        }
        // --max-vocab with --init-from: the language model's vocabulary first, unchanged, then
        // the training tokens it lacks, their embeddings at the mean of its rows but <pad>.
        let extra = labelled.prefix(200).map { Review(text: $0.text + " zulu yankee", label: $0.label) }
        var grown = SentimentRunConfig(out: tmp("ftgrown.safetensors"))
        grown.initFrom = tmp("w.safetensors"); grown.epochs = 1; grown.learningRate = 0; grown.threads = 2
        grown.maxVocab = 100
        _ = try SentimentRun.run(grown, train: Array(extra), valid: Array(labelled.suffix(50)))
        let g = try Model.load(path: tmp("ftgrown.safetensors"))
        let V = a.config.vocabSize, E = a.config.embeddingDim
        XCTAssertEqual(Array(g.config.vocab.prefix(V)), a.config.vocab)
        XCTAssertEqual(Set(g.config.vocab.suffix(from: V)), ["zulu", "yankee"])
        XCTAssertEqual(Array(g.weights.embedding.weight.array.prefix(V * E)), a.weights.embedding.weight.array)
        let lmRows = a.weights.embedding.weight.span()
        for k in 0..<E {
            var mean = 0.0
            for r in 1..<V { mean += Double(lmRows[r * E + k]) }
            XCTAssertEqual(g.weights.embedding.weight[V * E + k], Float(mean / Double(V - 1)))
        }
        var bad = SentimentRunConfig(out: tmp("ftbad.safetensors"))
        bad.initFrom = tmp("ft\(false).safetensors")
        XCTAssertThrowsError(try SentimentRun.run(bad, train: labelled, valid: labelled)) {
            XCTAssertEqual(($0 as? SwiftRNNError)?.code, .wrongKind)
        }
    }

    /// Issue 14's fine-tuning controls: concat pooling learns; gradual unfreezing trains the head
    /// alone in epoch 1 (the encoder bit for bit as it started), then one group more per epoch;
    /// discriminative rates scale each group; a resumed run equals an uninterrupted one.
    func testConcatPoolingGradualUnfreezingAndDiscriminativeRates() throws {
        let train = Self.keywordReviews(600, seed: 1), valid = Self.keywordReviews(200, seed: 2)
        func config(_ name: String, epochs: Int, resume: Bool = false) -> SentimentRunConfig {
            var c = SentimentRunConfig(out: tmp(name))
            c.epochs = epochs; c.batchSize = 16; c.learningRate = 0.01; c.embeddingDim = 8; c.hiddenSize = 8; c.fcHidden = 8
            c.threads = 2; c.seed = 3; c.pooling = .concat; c.gradualUnfreezing = true; c.layerDecay = 2.6
            c.dropout = 0.1; c.resume = resume
            return c
        }
        // Concat pooling learns the keyword rule (the slanted schedule on, unfreezing off).
        var plain = config("concat.safetensors", epochs: 4)
        plain.gradualUnfreezing = false; plain.layerDecay = 1; plain.slantedTriangular = true
        XCTAssertGreaterThanOrEqual(try SentimentRun.run(plain, train: train, valid: valid).bestValidAccuracy, 0.9)
        // Epoch 1 alone: only the head moved.
        let start = Initialization.pytorchDefault(config: try SentimentTask(config("u0.safetensors", epochs: 1), train: train, valid: valid,
                                                                            resumingFrom: nil).config,
                                                  headSizes: [8, 1], seed: 3)
        _ = try SentimentRun.run(config("u1.safetensors", epochs: 1), train: train, valid: valid)
        let one = try Checkpoint.load(path: tmp("u1.safetensors.ckpt")).weights
        XCTAssertEqual(one.pooling, .concat)
        XCTAssertEqual(one.embedding.weight, start.embedding.weight)
        XCTAssertEqual(one.rnn.weights[0].wHH, start.rnn.weights[0].wHH)
        XCTAssertNotEqual(one.head[0].weight, start.head[0].weight)
        // Two more epochs, resumed: the recurrent layer and then the embedding train too, and the
        // result is the run that never stopped.
        _ = try SentimentRun.run(config("u1.safetensors", epochs: 3, resume: true), train: train, valid: valid)
        _ = try SentimentRun.run(config("u3.safetensors", epochs: 3), train: train, valid: valid)
        let a = try Checkpoint.load(path: tmp("u1.safetensors.ckpt")).weights, b = try Checkpoint.load(path: tmp("u3.safetensors.ckpt")).weights
        for (name, p) in a.parameterPaths { XCTAssertEqual(a[keyPath: p], b[keyPath: p], name) }
        XCTAssertNotEqual(b.rnn.weights[0].wHH, start.rnn.weights[0].wHH)
        XCTAssertNotEqual(b.embedding.weight, start.embedding.weight)
        let m = try Model.load(path: tmp("concat.safetensors"))
        XCTAssertEqual(m.config.pooling, .concat)
        XCTAssertEqual(m.config.featureWidth, 3 * 8)
        XCTAssertEqual(try m.embed("a wonderful film").count, 24)

        // The rates: head 1, the recurrent layer 1/2.6, the embedding 1/2.6^2; frozen groups 0.
        var t = SentimentTrainer(weights: start, config: m.config, options: .init())
        t.options.layerDecay = 2.6
        t.options.unfrozenGroups = 2
        let rates = try XCTUnwrap(t.rates)
        for ((name, _), rate) in zip(start.parameterPaths, rates) {
            let want: Float = name.hasPrefix("head") ? 1 : name.hasPrefix("rnn.") ? 1 / 2.6 : 0
            XCTAssertEqual(rate, want, accuracy: 1e-6, name)
        }
        XCTAssertEqual(SentimentRun.slantedTriangular(step: 0, total: 100, peak: 1), 1 / 32)
        XCTAssertEqual(SentimentRun.slantedTriangular(step: 10, total: 100, peak: 1), 1)
        XCTAssertEqual(SentimentRun.slantedTriangular(step: 100, total: 100, peak: 1), 1 / 32)
    }

    func testCosineScheduleRunsFromTheRateToTheFinalRate() {
        var c = CharLMRunConfig(out: "unused")
        c.iterations = 101; c.learningRate = 0.005
        XCTAssertEqual(CharLMRun.learningRate(c, iteration: 50), 0.005, "no --final-lr: constant")
        c.finalLearningRate = 0.0001
        XCTAssertEqual(CharLMRun.learningRate(c, iteration: 0), 0.005, accuracy: 1e-9)
        XCTAssertEqual(CharLMRun.learningRate(c, iteration: 50), (0.005 + 0.0001) / 2, accuracy: 1e-9)
        XCTAssertEqual(CharLMRun.learningRate(c, iteration: 100), 0.0001, accuracy: 1e-9)
        let rates = (0..<101).map { CharLMRun.learningRate(c, iteration: $0) }
        XCTAssertEqual(rates, rates.sorted(by: >), "the rate only decreases")
    }

    func testCorpusReadsLikePythonTextMode() throws {
        let path = tmp("crlf.txt")
        let raw: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("junk THE MYSTERIOUS ISLAND\r\nline\rtwo\r\n".utf8)
            + Array(String(repeating: "x", count: 200).utf8) + Array("End of the Project Gutenberg tail".utf8)
        try Data(raw).write(to: URL(fileURLWithPath: path))
        let c = try CharCorpus(path: path)
        let s = String(String.UnicodeScalarView(c.text))
        XCTAssertTrue(s.hasPrefix("THE MYSTERIOUS ISLAND\nline\ntwo\nxx"))
        XCTAssertFalse(s.contains("\r"))
        XCTAssertFalse(s.contains("End of"))
        XCTAssertEqual(c.characters, c.characters.sorted { $0.unicodeScalars.first!.value < $1.unicodeScalars.first!.value })
    }
}
