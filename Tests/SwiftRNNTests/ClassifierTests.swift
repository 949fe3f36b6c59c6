import Foundation
import XCTest
@testable import SwiftRNN

/// Issue 15 items 2 and 3: the classifier kind and bias=False / dropout, against the PyTorch
/// fixtures of tools/make_classifier_fixtures.py.
final class ClassifierTests: XCTestCase {
    static let fixtures = ["classifier_lstm_bi_3class", "classifier_gru_multilabel_nobias",
                           "classifier_rnn_tanh_nobias", "classifier_lstm_multilabel_nobias",
                           "classifier_lstm_proj_bi", "classifier_lstm_proj_multilabel_nobias",
                           "classifier_gru_bi_concat_2layer"]

    func testClassifierFixturesMatchPyTorch() throws {
        for name in Self.fixtures {
            let model = try Model.load(path: fixturePath("models/\(name).safetensors"))
            guard case let .classifier(c) = model else { XCTFail("\(name) is not a classifier"); continue }
            let exp = try XCTUnwrap(readJSON("models/\(name).expected.json") as? [String: Any])
            XCTAssertEqual(c.labels, exp["labels"] as! [String])
            XCTAssertEqual(c.multiLabel, exp["multi_label"] as! Bool)
            let texts = exp["texts"] as! [String]
            let ids = (exp["token_ids"] as! [[Int]]).map { $0.map(Int32.init) }
            let probs = (exp["probabilities"] as! [[Double]]).map { $0.map(Float.init) }
            let feats = (exp["features"] as! [[Double]]).map { $0.map(Float.init) }
            for (k, t) in texts.enumerated() {
                XCTAssertEqual(c.encode(t), ids[k], "\(name): ids of \(t.debugDescription)")
                assertClose(c.classify(t), probs[k], "\(name): probabilities of \(t.debugDescription)")
                assertClose(try model.embed(t), feats[k], "\(name): features of \(t.debugDescription)")
            }
            // Batches: every row the bits of the single call.
            for threads in [1, 2] {
                let batch = c.classifyBatch(texts, threads: threads)
                let fb = try model.embedBatch(texts, threads: threads)
                let n = c.labels.count, w = feats[0].count
                for (k, t) in texts.enumerated() {
                    XCTAssertEqual(Array(batch[(k * n)..<((k + 1) * n)]), c.classify(t), "\(name) batch row \(k)")
                    XCTAssertEqual(Array(fb[(k * w)..<((k + 1) * w)]), try model.embed(t), "\(name) embed batch row \(k)")
                }
            }
        }
    }

    func testBiasFreeFilesLoadZeroBiasesAndRoundTrip() throws {
        let model = try Model.load(path: fixturePath("models/classifier_gru_multilabel_nobias.safetensors"))
        let w = model.weights
        XCTAssertTrue(w.rnn.weights.allSatisfy { $0.bIH.array.allSatisfy { $0 == 0 } && $0.bHH.array.allSatisfy { $0 == 0 } })
        XCTAssertTrue(w.head.allSatisfy { $0.bias.array.allSatisfy { $0 == 0 } })
        // PyTorch's count: no biases (GRU 8 -> 6: 3*6*8 + 3*6*6; fc1 12 -> 5; fc2 5 -> 4; 136 x 8).
        XCTAssertEqual(w.parameterCount, 136 * 8 + 3 * 6 * 8 + 3 * 6 * 6 + 5 * 6 + 4 * 5)
        // The library's writer writes the zeros; the file reads back to the same results.
        let again = try model.serialize().withUnsafeBytes { try Model.load(bytes: $0) }
        guard case let .classifier(a) = model, case let .classifier(b) = again else { return XCTFail() }
        XCTAssertEqual(b.labels, a.labels)
        XCTAssertEqual(b.multiLabel, a.multiLabel)
        XCTAssertEqual(b.classify("a great film"), a.classify("a great film"))
    }

    func testSentimentEmbedIsWhatItsHeadReads() throws {
        let model = try Model.load(path: fixturePath("models/sentiment_lstm_bi.safetensors"))
        guard case let .sentiment(s) = model else { return XCTFail() }
        let text = "a great film, not a dull one"
        let f = try model.embed(text)
        XCTAssertEqual(f.count, 2 * s.config.hiddenSize)
        let logit = SentimentModel.head(s.weights, features: FloatBuffer(f), rows: 1)[0]
        XCTAssertEqual(logit, s.logit(ids: s.encode(text)))
        let c = try Model.load(path: fixturePath("models/charlm_small.safetensors"))
        assertThrows(.wrongKind, "embed") { try c.embed("abc") }
    }

    /// Metadata a classifier needs, each fault a format error naming it.
    func testClassifierMetadataIsChecked() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: fixturePath("models/classifier_lstm_bi_3class.safetensors"))))
        let model = try bytes.withUnsafeBytes { try Model.load(bytes: $0) }
        func edited(_ edit: (inout [(String, String)]) -> Void) throws -> Model {
            var w = SafeTensorsWriter()
            w.metadata = model.config.metadata
            edit(&w.metadata)
            model.weights.write(to: &w, config: model.config)
            return try w.serialize().withUnsafeBytes { try Model.load(bytes: $0) }
        }
        func set(_ key: String, _ value: String?) -> (inout [(String, String)]) -> Void {
            { m in m.removeAll { $0.0 == key }; if let value { m.append((key, value)) } }
        }
        XCTAssertNoThrow(try edited { _ in })
        assertThrows(.format, "'labels'") { try edited(set("labels", nil)) }
        assertThrows(.format, "not a JSON array") { try edited(set("labels", "{}")) }
        assertThrows(.format, "twice") { try edited(set("labels", "[\"a\",\"a\",\"b\"]")) }
        assertThrows(.format, "non-empty string") { try edited(set("labels", "[\"a\",\"\",\"b\"]")) }
        assertThrows(.format, "non-empty string") { try edited(set("labels", "[\"a\",1,\"b\"]")) }
        assertThrows(.format, "fc2.weight") { try edited(set("labels", "[\"a\",\"b\"]")) }
        assertThrows(.format, "needs 2 to 65536 labels") { try edited(set("labels", "[\"a\"]")) }
        assertThrows(.format, "multi_label") { try edited(set("multi_label", "yes")) }
        assertThrows(.format, "classifier") { try edited(set("kind", "classifer")) }
        // A one-label multi-label classifier is fine (the sentiment model's shape).
        let one = try Model.load(path: fixturePath("models/sentiment_lstm_bi.safetensors"))
        var w = SafeTensorsWriter()
        w.metadata = one.config.metadata
        w.metadata.removeAll { $0.0 == "kind" }
        w.metadata += [("kind", "classifier"), ("labels", "[\"positive\"]"), ("multi_label", "true")]
        one.weights.write(to: &w, config: one.config)
        let asClassifier = try w.serialize().withUnsafeBytes { try Model.load(bytes: $0) }
        guard case let .classifier(c) = asClassifier, case let .sentiment(s) = one else { return XCTFail() }
        XCTAssertEqual(c.classify("a great film"), [s.score("a great film")])
    }

    func testOverflowingClassifierIsNaN() throws {
        let model = try Model.load(path: fixturePath("models/classifier_rnn_tanh_nobias.safetensors"))
        var w = model.weights
        for k in w.head.indices { w.head[k].weight = FloatBuffer(w.head[k].weight.array.map { $0 * 1e30 }) }
        guard case let .classifier(c) = try Model.make(config: model.config, weights: w) else { return XCTFail() }
        XCTAssertTrue(c.classify("a great film").allSatisfy { $0.isNaN })
        let rows = c.classifyBatch(["a great film", "a great film"], threads: 1)
        XCTAssertTrue(rows.allSatisfy { $0.isNaN })
        XCTAssertTrue(try Model.classifier(c).embed("a great film").allSatisfy { $0.isFinite })
    }

    /// Concat pooling (issue 14): features are [last, max, mean]; the file says format 3 and
    /// `pooling`, and every wrong combination is a FORMAT error naming the problem.
    func testConcatPoolingFilesSayWhatTheyAre() throws {
        let model = try Model.load(path: fixturePath("models/classifier_gru_bi_concat_2layer.safetensors"))
        XCTAssertEqual(model.config.pooling, .concat)
        XCTAssertEqual(model.config.formatVersion, 3)
        XCTAssertEqual(model.config.featureWidth, 3 * 2 * 6)
        // A very long text pools in bounded memory and still equals the batch form.
        let long = String(repeating: "a great film but the plot was dull. ", count: 3000)
        guard case let .classifier(c) = model else { return XCTFail() }
        XCTAssertEqual(c.classifyBatch(["ok", long, "bad"], threads: 2)[3..<6].map { $0 }, c.classify(long))
        let again = try model.serialize().withUnsafeBytes { try Model.load(bytes: $0) }
        XCTAssertEqual(again.config.pooling, .concat)
        XCTAssertEqual(try again.embed("a great film"), try model.embed("a great film"))
        let i8 = try model.serialize(dtype: .i8).withUnsafeBytes { try Model.load(bytes: $0) }
        XCTAssertEqual(i8.config.formatVersion, 3)
        func edited(_ changes: [(String, String?)]) throws -> Model {
            var w = SafeTensorsWriter()
            w.metadata = model.config.metadata
            for (key, value) in changes {
                w.metadata.removeAll { $0.0 == key }
                if let value { w.metadata.append((key, value)) }
            }
            model.weights.write(to: &w, config: model.config)
            return try w.serialize().withUnsafeBytes { try Model.load(bytes: $0) }
        }
        assertThrows(.format, "pooling") { try edited([("pooling", "max")]) }
        assertThrows(.format, "format_version 3") { try edited([("format_version", "2")]) }
        assertThrows(.format, "fc1") { try edited([("pooling", nil)]) }
        assertThrows(.format, "fc1") { try edited([("pooling", "last")]) }
        assertThrows(.format, "pooling") { try edited([("kind", "charlm"), ("bidirectional", "false")]) }
        assertThrows(.unsupported, "newer") { try edited([("format_version", "5")]) }
    }

    func testProjSizeIsForManyToOneLSTMs() throws {
        let model = try Model.load(path: fixturePath("models/classifier_lstm_proj_bi.safetensors"))
        XCTAssertEqual(model.config.projSize, 4)
        XCTAssertEqual(model.config.stateSize, 4)
        XCTAssertEqual(try model.embed("a film").count, 2 * 4)
        // Re-saved, it reads back to the same bits (weight_hr and proj_size are written).
        let again = try model.serialize().withUnsafeBytes { try Model.load(bytes: $0) }
        guard case let .classifier(a) = model, case let .classifier(b) = again else { return XCTFail() }
        XCTAssertEqual(b.classify("a great film"), a.classify("a great film"))
        func edited(_ key: String, _ value: String) throws -> Model {
            var w = SafeTensorsWriter()
            w.metadata = model.config.metadata
            w.metadata.removeAll { $0.0 == key }
            w.metadata.append((key, value))
            model.weights.write(to: &w, config: model.config)
            return try w.serialize().withUnsafeBytes { try Model.load(bytes: $0) }
        }
        assertThrows(.format, "proj_size") { try edited("proj_size", "6") }
        assertThrows(.format, "proj_size") { try edited("proj_size", "-1") }
        assertThrows(.format, "weight_hh_l0") { try edited("proj_size", "3") }
        assertThrows(.format, "weight_hh_l0") { try edited("proj_size", "0") }
        assertThrows(.unsupported, "proj_size") { try edited("cell", "gru") }
        assertThrows(.unsupported, "proj_size") { try edited("kind", "charlm") }
    }

    /// `convert --dtype I8` of models whose int8 matrices have byte counts that are not
    /// multiples of 4 (0.3.0 wrote a scale after them, misaligned: the file did not load).
    func testInt8ConversionOfOddShapesLoads() throws {
        for name in Self.fixtures + ["sentiment_lstm_bi", "sentiment_rnn_tanh_uni"] {
            let model = try Model.load(path: fixturePath("models/\(name).safetensors"))
            for dtype in [SafeTensors.DType.i8, .f16, .bf16] {
                let again = try model.serialize(dtype: dtype).withUnsafeBytes { try Model.load(bytes: $0) }
                XCTAssertEqual(again.config.kind, model.config.kind, "\(name) \(dtype)")
                XCTAssertEqual(again.config.labels, model.config.labels, "\(name) \(dtype)")
                XCTAssertEqual(again.config.projSize, model.config.projSize, "\(name) \(dtype)")
                XCTAssertEqual(again.weights.parameterCount, model.weights.parameterCount + model.weights.absentBiasCount)
            }
        }
    }
}
