import Foundation
import XCTest
@testable import SwiftRNN
@testable import SwiftRNNTraining

/// Word vectors (issue 14's cheap pretraining): the text format read as word2vec, fastText and
/// GloVe write it, `train wordvec` learning what co-occurs, and `--init-embedding` starting a
/// classifier's rows from them.
final class WordVectorTests: XCTestCase {
    func tmp(_ name: String) -> String { scratchPath("wv", name) }

    func write(_ text: String, _ name: String) -> String {
        let p = tmp(name)
        FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    func key(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testReadsWord2VecFastTextAndGloVeText() throws {
        // word2vec/fastText: a "COUNT DIM" header; CRLF line ends; several spaces.
        let a = try WordVectors.load(path: write("2 3\r\ngood 1 2.5 -3\r\nbad  0.5 1e-2 4 \r\n", "a.vec"), wanted: nil)
        XCTAssertEqual(a.dim, 3)
        XCTAssertEqual(a.fileWords, 2)
        XCTAssertEqual(a.vectors[key("good")], [1, 2.5, -3])
        XCTAssertEqual(a.vectors[key("bad")], [0.5, 0.01, 4])
        // GloVe: no header, and only the wanted words are kept.
        let g = try WordVectors.load(path: write("the 1 2\nof 3 4\nand 5 6\n", "g.txt"), wanted: [key("of")])
        XCTAssertEqual(g.dim, 2)
        XCTAssertEqual(g.fileWords, 3)
        XCTAssertEqual(Array(g.vectors.keys), [key("of")])
        // A two-number line first is a word with one number, not a header, if its second field
        // is not an integer.
        let one = try WordVectors.load(path: write("x 0.5\ny 2\n", "one.txt"), wanted: nil)
        XCTAssertEqual(one.dim, 1)
        XCTAssertEqual(one.vectors[key("x")], [0.5])
        // Byte-exact words: a decomposed "é" is not the composed one.
        let e = try WordVectors.load(path: write("caf\u{E9} 1\n", "e.txt"), wanted: nil)
        XCTAssertNil(e.vectors[key("cafe\u{301}")])
        XCTAssertEqual(e.vectors[key("caf\u{E9}")], [1])
    }

    func testEveryMalformedLineIsAnErrorWithItsLine() {
        let cases: [(String, String)] = [
            ("a 1 2\nb 1\n", ":2: 1 numbers where the lines before have 2"),
            ("a 1 x\n", ":1: number 2 of 'a' is not a finite number"),
            ("a 1 nan\n", "not a finite number"),
            ("a 1 inf\n", "not a finite number"),
            ("3 2\nword\n", ":2: a word without numbers"),
            ("", "no word vectors"),
            ("\n\n", "no word vectors"),
        ]
        for (i, (text, message)) in cases.enumerated() {
            XCTAssertThrowsError(try WordVectors.load(path: write(text, "bad\(i).vec"), wanted: nil), text) {
                XCTAssertEqual(($0 as? SwiftRNNError)?.code, .format, text)
                XCTAssertTrue(($0 as? SwiftRNNError)?.message.contains(message) ?? false, "\($0) for \(text.debugDescription)")
            }
        }
        XCTAssertThrowsError(try WordVectors.load(path: tmp("missing.vec"), wanted: nil)) {
            XCTAssertEqual(($0 as? SwiftRNNError)?.code, .io)
        }
    }

    func testInitializeScalesTheFoundRowsToTheRandomOnesAndLeavesTheRest() throws {
        let v = WordVectors(dim: 2, vectors: [key("good"): [3, 4], key("bad"): [0, -5], key("<pad>"): [9, 9]], fileWords: 3)
        var emb = FloatBuffer([0, 0, 1, 1, 0.5, 0.5, 2, 0])          // <pad>, <unk>, good, ugly
        let tokens = ["<pad>", "<unk>", "good", "ugly"]
        var e2 = emb
        XCTAssertEqual(try v.initialize(&e2, tokens: tokens), 1)
        // The row of "good" was (0.5, 0.5): RMS 0.5; the vector (3, 4) has RMS sqrt(12.5).
        let s = Float(0.5 / 12.5.squareRoot())
        XCTAssertEqual(e2[4], 3 * s, accuracy: 1e-6)
        XCTAssertEqual(e2[5], 4 * s, accuracy: 1e-6)
        for i in [0, 1, 2, 3, 6, 7] { XCTAssertEqual(e2[i], emb[i]) }    // <pad>, <unk>, ugly unchanged
        XCTAssertThrowsError(try WordVectors(dim: 3, vectors: [:], fileWords: 0).initialize(&emb, tokens: tokens)) {
            XCTAssertEqual(($0 as? SwiftRNNError)?.code, .invalidArgument)
        }
    }

    /// Words that share their contexts end up closer than words that do not; the run is
    /// reproducible to the bit; what it writes reads back to the same floats.
    func testSkipGramLearnsSharedContextsReproducibly() throws {
        var rng = RandomSource(seed: 5)
        func pick(_ a: [String]) -> String { a[Int(rng.next() % UInt64(a.count))] }
        let happy = ["joy", "delight", "cheer", "smile"], sad = ["grief", "sorrow", "tears", "gloom"]
        // "good" and "great" appear among happy words, "awful" among sad ones.
        let texts: [String] = (0..<600).map { k in
            let (w, ctx) = [("good", happy), ("great", happy), ("awful", sad)][k % 3]
            return (0..<4).map { _ in pick(ctx) }.joined(separator: " ") + " \(w) " + (0..<4).map { _ in pick(ctx) }.joined(separator: " ")
        }
        var c = WordVectorRunConfig(out: tmp("t.vec"))
        c.dim = 16; c.epochs = 5; c.minCount = 1; c.subsample = 0; c.window = 3; c.negatives = 3; c.seed = 2
        let (v, r) = try WordVectorRun.train(c, texts: texts)
        XCTAssertEqual(r.words, 11)
        XCTAssertEqual(r.tokens, 600 * 9)
        func cos(_ a: String, _ b: String) -> Float {
            let x = v.vectors[key(a)]!, y = v.vectors[key(b)]!
            let d = zip(x, y).map(*).reduce(0, +)
            return d / (x.map { $0 * $0 }.reduce(0, +) * y.map { $0 * $0 }.reduce(0, +)).squareRoot()
        }
        XCTAssertGreaterThan(cos("good", "great"), cos("good", "awful") + 0.3, "good~great \(cos("good", "great")), good~awful \(cos("good", "awful"))")
        let (again, _) = try WordVectorRun.train(c, texts: texts)
        XCTAssertEqual(again.vectors, v.vectors)
        _ = try WordVectorRun.run(c, texts: texts)
        let read = try WordVectors.load(path: c.out, wanted: nil)
        XCTAssertEqual(read.vectors, v.vectors)
        XCTAssertEqual(read.fileWords, 11)
        var bad = c
        bad.dim = 0
        XCTAssertThrowsError(try WordVectorRun.train(bad, texts: texts)) { XCTAssertEqual(($0 as? SwiftRNNError)?.code, .invalidArgument) }
        bad = c
        bad.minCount = 10_000
        XCTAssertThrowsError(try WordVectorRun.train(bad, texts: texts)) { XCTAssertEqual(($0 as? SwiftRNNError)?.code, .invalidArgument) }
    }

    /// `train sentiment --init-embedding`: the vocabulary as without it, the rows of the words
    /// the file has from the file (scaled), every other row as a run without it starts.
    func testSentimentStartsItsEmbeddingFromTheVectors() throws {
        let reviews = TrainingTests.keywordReviews(200, seed: 1)
        let vec = write("3 4\ngreat 1 2 3 4\nawful -1 0 1 0\nnotaword 5 5 5 5\n", "init.vec")
        var plain = SentimentRunConfig(out: tmp("plain.safetensors"))
        plain.epochs = 1; plain.learningRate = 0; plain.embeddingDim = 4; plain.hiddenSize = 4; plain.threads = 1
        _ = try SentimentRun.run(plain, train: Array(reviews.prefix(150)), valid: Array(reviews.suffix(50)))
        var started = plain
        started.out = tmp("started.safetensors"); started.initEmbedding = vec
        let r = try SentimentRun.run(started, train: Array(reviews.prefix(150)), valid: Array(reviews.suffix(50)))
        XCTAssertEqual(r.initializedRows, 2)
        let a = try Model.load(path: plain.out), b = try Model.load(path: started.out)
        XCTAssertEqual(a.config.vocab, b.config.vocab)
        let E = 4, great = a.config.vocab.firstIndex(of: "great")!, awful = a.config.vocab.firstIndex(of: "awful")!
        let ea = a.weights.embedding.weight, eb = b.weights.embedding.weight
        for row in 0..<a.config.vocabSize where row != great && row != awful {
            for k in 0..<E { XCTAssertEqual(ea[row * E + k], eb[row * E + k]) }
        }
        // The two rows hold the vectors times one scale: their RMS equals that of the rows they replaced.
        let s = eb[great * E] / 1
        for (k, x) in [Float(1), 2, 3, 4].enumerated() { XCTAssertEqual(eb[great * E + k], x * s, accuracy: 1e-5) }
        for (k, x) in [Float(-1), 0, 1, 0].enumerated() { XCTAssertEqual(eb[awful * E + k], x * s, accuracy: 1e-5) }
        var before = 0.0, after = 0.0
        for row in [great, awful] { for k in 0..<E {
            before += Double(ea[row * E + k] * ea[row * E + k]); after += Double(eb[row * E + k] * eb[row * E + k])
        } }
        XCTAssertEqual(before, after, accuracy: 1e-4 * before)
        // --add-vector-words: the vectors' other words join the vocabulary, in file order.
        var added = started
        added.out = tmp("added.safetensors"); added.addVectorWords = true
        XCTAssertEqual(try SentimentRun.run(added, train: Array(reviews.prefix(150)), valid: Array(reviews.suffix(50))).initializedRows, 3)
        let c = try Model.load(path: added.out)
        XCTAssertEqual(c.config.vocab, a.config.vocab + ["notaword"])
        let ec = c.weights.embedding.weight, last = a.config.vocabSize
        let sc = ec[great * E] / 1
        XCTAssertGreaterThan(sc, 0)
        for k in 0..<E { XCTAssertEqual(ec[last * E + k], 5 * sc, accuracy: 1e-5) }
        var wrong = started
        wrong.embeddingDim = 8
        XCTAssertThrowsError(try SentimentRun.run(wrong, train: reviews, valid: reviews)) {
            XCTAssertEqual(($0 as? SwiftRNNError)?.code, .invalidArgument)
        }
    }
}
