import Foundation
import XCTest
@testable import SwiftRNN
@testable import SwiftRNNTraining

/// The hashed n-gram term (issue 14): its hashing and features against Python, a wide model
/// against PyTorch (tools/make_ngram_fixtures.py), its training, and malformed files.
final class NGramTests: XCTestCase {
    func testHashingAndFeaturesMatchPython() throws {
        let j = try readJSON("ngram_hashing.json") as! [String: Any]
        let order = j["order"] as! Int, buckets = j["buckets"] as! Int
        let cases = j["cases"] as! [[String: Any]]
        let idfs = j["idf_of_feature_buckets"] as! [[Double]]
        for (k, c) in cases.enumerated() {
            let text = c["text"] as! String
            XCTAssertEqual(Tokenizer.tokenizeToStrings(text), c["tokens"] as! [String], text)
            XCTAssertEqual(NGramBag.bucketList(of: text, order: order, buckets: buckets), c["buckets"] as! [Int], text)
            var idf = FloatBuffer(count: buckets)
            let fb = c["feature_buckets"] as! [Int]
            for (b, v) in zip(fb, idfs[k]) { idf[b] = Float(v) }
            let f = NGramBag.features(NGramBag.counts(of: text, order: order, buckets: buckets), idf: idf)
            XCTAssertEqual(f.map(\.bucket), fb, text)
            assertClose(f.map(\.value), (c["feature_values"] as! [Double]).map { Float($0) }, tol: 1e-6, text)
        }
    }

    func testWideModelMatchesPyTorch() throws {
        let exp = try readJSON("models/sentiment_gru_bi_ngram.expected.json") as! [String: Any]
        guard case let .sentiment(m) = try Model.load(path: fixturePath("models/sentiment_gru_bi_ngram.safetensors")) else {
            return XCTFail("not a sentiment model")
        }
        XCTAssertEqual(m.config.ngramOrder, 2)
        XCTAssertEqual(m.config.ngramBuckets, 61)
        XCTAssertEqual(m.config.formatVersion, 4)
        let texts = exp["texts"] as! [String]
        let logits = (exp["logits"] as! [Double]).map { Float($0) }
        let probs = (exp["probabilities"] as! [Double]).map { Float($0) }
        let terms = (exp["ngram_terms"] as! [Double]).map { Float($0) }
        assertClose(texts.map { m.logit(text: $0) }, logits, "logits")
        assertClose(texts.map { m.weights.ngrams!.term($0)[0] }, terms, "n-gram terms")
        let one = texts.map { m.score($0) }
        assertClose(one, probs, "probabilities")
        // The batch gives each text the bits it gets alone, at any thread count.
        for threads in [1, 2] {
            XCTAssertEqual(m.scoreBatch(texts, threads: threads).map(\.bitPattern), one.map(\.bitPattern))
        }
        // The term is what sets it apart from the network alone.
        XCTAssertGreaterThan(zip(texts, logits).map { abs(m.logit(ids: m.encode($0.0)) - $0.1) }.max()!, 0.1)
        // Written and read back: the same model, and F16 keeps the term (as half).
        func reload(_ dtype: SafeTensors.DType) throws -> Model {
            try Model.sentiment(m).serialize(dtype: dtype).withUnsafeBytes { try Model.load(bytes: $0) }
        }
        let copy = try reload(.f32)
        guard case let .sentiment(c) = copy else { return XCTFail() }
        XCTAssertEqual(texts.map { c.score($0).bitPattern }, one.map(\.bitPattern))
        let half = try reload(.f16)
        guard case let .sentiment(h) = half else { return XCTFail() }
        XCTAssertEqual(h.weights.ngrams?.order, 2)
        assertClose(texts.map { h.score($0) }, probs, tol: 2e-2, "F16 probabilities")
        let i8 = try reload(.i8)
        guard case let .sentiment(q) = i8 else { return XCTFail() }
        XCTAssertEqual(q.weights.ngrams?.weight, m.weights.ngrams?.weight, "the term stays F32 in an int8 file")
        // From a half model, int8 stores the term half: the same values in fewer bytes.
        let fromHalf = try Model.sentiment(h).serialize(dtype: .i8)
        XCTAssertEqual(try Model.sentiment(m).serialize(dtype: .i8).count - fromHalf.count,
                       2 * (m.weights.ngrams!.idf.count + m.weights.ngrams!.weight.count))
        guard case let .sentiment(hq) = try fromHalf.withUnsafeBytes({ try Model.load(bytes: $0) }) else { return XCTFail() }
        XCTAssertEqual(hq.weights.ngrams, h.weights.ngrams)
    }

    func testTrainNGramsLearnsAndJoins() throws {
        let train = TrainingTests.keywordReviews(400, seed: 11), valid = TrainingTests.keywordReviews(200, seed: 12)
        var o = NGramTrainer.Options()
        o.order = 2; o.buckets = 4096; o.c = 10; o.minDF = 2; o.threads = 2
        let fit = NGramTrainer.fit(texts: train.map(\.text), labels: train.map(\.label), options: o)
        XCTAssertTrue(fit.converged, "L-BFGS stopped after \(fit.iterations) iterations")
        XCTAssertLessThan(fit.trainLoss, 0.2)
        // The same run twice, at another thread count: the same bits.
        o.threads = 1
        let again = NGramTrainer.fit(texts: train.map(\.text), labels: train.map(\.label), options: o)
        XCTAssertEqual(again.bag, fit.bag)
        XCTAssertEqual(again.bias.bitPattern, fit.bias.bitPattern)
        // A network that knows nothing (random weights), and the term that knows the keywords.
        guard case let .sentiment(net) = makeModel(kind: .sentiment) else { return XCTFail() }
        let texts = valid.map(\.text), labels = valid.map(\.label)
        let netLogits = texts.map { net.logit(ids: net.encode($0)) }
        let term = texts.map { fit.bag.term($0)[0] + fit.bias }
        let mix = NGramTrainer.mixing(network: netLogits, term: term, labels: labels)
        let e = NGramTrainer.evaluate(mix, network: netLogits, term: term, labels: labels)
        XCTAssertGreaterThanOrEqual(e.accuracy, 0.95)
        XCTAssertGreaterThan(mix.alpha, 1, "the stacking trusts the term")
        let (w, c) = NGramTrainer.join(net.weights, config: net.config, fit: fit, mixing: mix)
        guard case let .sentiment(joined) = try Model.make(config: c, weights: w) else { return XCTFail() }
        for i in 0..<20 {
            XCTAssertEqual(Double(joined.logit(text: texts[i])), mix.logit(network: netLogits[i], term: term[i]), accuracy: 1e-4)
        }
        let probs = joined.scoreBatch(texts, threads: 2)
        let right = zip(probs, labels).filter { ($0.0 > 0.5) == ($0.1 > 0.5) }.count
        XCTAssertGreaterThanOrEqual(Double(right) / Double(texts.count), 0.95)
    }

    /// `--naive-bayes` multiplies each active bucket's idf by |ln((p/|p|) / (q/|q|))|, p and q
    /// the positive and negative reviews holding it plus one (recomputed here from the counts),
    /// and the fit still learns.
    func testNaiveBayesScalesTheIdf() throws {
        let train = TrainingTests.keywordReviews(400, seed: 11), valid = TrainingTests.keywordReviews(200, seed: 12)
        var o = NGramTrainer.Options()
        o.order = 2; o.buckets = 4096; o.c = 10; o.minDF = 2; o.threads = 2
        let texts = train.map(\.text), labels = train.map(\.label)
        let plain = NGramTrainer.fit(texts: texts, labels: labels, options: o)
        o.naiveBayes = true
        let nb = NGramTrainer.fit(texts: texts, labels: labels, options: o)
        let active = (0..<o.buckets).filter { plain.bag.idf[$0] > 0 }
        XCTAssertEqual(active.count, nb.features)
        var p = [Int: Double](), q = [Int: Double]()
        for b in active { p[b] = 1; q[b] = 1 }
        for (t, y) in zip(texts, labels) {
            for (b, _) in NGramBag.counts(of: t, order: 2, buckets: o.buckets) where p[b] != nil {
                if y > 0.5 { p[b]! += 1 } else { q[b]! += 1 }
            }
        }
        let sp = p.values.reduce(0, +), sq = q.values.reduce(0, +)
        var largest = (bucket: -1, scale: 0.0)
        for b in 0..<o.buckets {
            guard p[b] != nil else { XCTAssertEqual(nb.bag.idf[b], 0); continue }
            let scale = abs(log((p[b]! / sp) / (q[b]! / sq)))
            XCTAssertEqual(Double(nb.bag.idf[b]), Double(plain.bag.idf[b]) * scale, accuracy: 1e-5 * Double(plain.bag.idf[b]) + 1e-7)
            if scale > largest.scale { largest = (b, scale) }
        }
        // The most telling bucket is one of the keywords the reviews are labelled by.
        let keywords = Set((TrainingTests.positive + TrainingTests.negative).flatMap {
            NGramBag.bucketList(of: $0, order: 1, buckets: o.buckets) })
        XCTAssertTrue(keywords.contains(largest.bucket), "bucket \(largest.bucket) has the largest ratio")
        XCTAssertTrue(nb.converged)
        let right = valid.filter { (nb.bag.term($0.text)[0] + nb.bias > 0) == ($0.label > 0.5) }.count
        XCTAssertGreaterThanOrEqual(Double(right) / Double(valid.count), 0.95)
    }

    /// Writes the fixture with its metadata edited by `edit` and tensors filtered by `keep`.
    func variant(_ edit: (inout [(String, String)]) -> Void, dropping: String? = nil) throws -> [UInt8] {
        guard case let .sentiment(m) = try Model.load(path: fixturePath("models/sentiment_gru_bi_ngram.safetensors")) else {
            throw XCTSkip("fixture")
        }
        var w = SafeTensorsWriter()
        w.metadata = m.config.metadata
        edit(&w.metadata)
        var weights = m.weights
        if dropping != nil { weights.ngrams = nil }
        weights.write(to: &w, config: m.config)
        return w.serialize()
    }

    func testMalformedNGramFilesAreRefused() throws {
        func set(_ key: String, _ value: String?) -> (inout [(String, String)]) -> Void {
            { md in
                md.removeAll { $0.0 == key }
                if let value { md.append((key, value)) }
            }
        }
        let cases: [((inout [(String, String)]) -> Void, String?, String)] = [
            (set("ngram_order", "4"), nil, "ngram_order"),
            (set("ngram_order", "0"), nil, "ngram_order"),
            (set("ngram_order", "two"), nil, "ngram_order"),
            (set("ngram_buckets", nil), nil, "ngram_buckets"),
            (set("ngram_buckets", "62"), nil, "ngram.idf"),
            (set("ngram_buckets", "99999999999"), nil, "ngram_buckets"),
            (set("ngram_order", nil), nil, "ngram_buckets"),
            (set("format_version", "3"), nil, "format_version 4"),
            (set("ngram_order", "2"), "drop", "ngram.idf"),
        ]
        for (edit, drop, fragment) in cases {
            let bytes = try variant(edit, dropping: drop)
            assertThrows(.format, fragment) { try bytes.withUnsafeBytes { try Model.load(bytes: $0) } }
        }
        // The term's tensors without the metadata that asks for them.
        let extra = try variant(set("ngram_order", nil) >> set("ngram_buckets", nil))
        assertThrows(.format, "ngram") { try extra.withUnsafeBytes { try Model.load(bytes: $0) } }
        // A newer format than this library reads is UNSUPPORTED, not misread.
        let newer = try variant(set("format_version", "5"))
        assertThrows(.unsupported, "format version 5") { try newer.withUnsafeBytes { try Model.load(bytes: $0) } }
    }
}

infix operator >>: AdditionPrecedence
private func >> (a: @escaping (inout [(String, String)]) -> Void, b: @escaping (inout [(String, String)]) -> Void) -> (inout [(String, String)]) -> Void {
    { a(&$0); b(&$0) }
}
