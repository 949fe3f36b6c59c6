import Foundation
import XCTest
@testable import SwiftRNN

/// torch.nn parity: every layer fixture and every book-model fixture from tools/make_fixtures.py.
final class LayerParityTests: XCTestCase {
    func testEveryLayerFixtureMatchesPyTorch() throws {
        let dir = fixturesDir.appendingPathComponent("layers")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".safetensors") }.sorted()
        XCTAssertEqual(files.count, 16, "4 cells x {1,2} layers x {uni,bi}")
        for f in files {
            try withSafeTensors(dir.appendingPathComponent(f).path) { st in
                let m = st.metadata
                let cell = try XCTUnwrap(CellKind(rawValue: m["cell"]!))
                let D = Int(m["input_size"]!)!, H = Int(m["hidden_size"]!)!, L = Int(m["num_layers"]!)!
                let bi = m["bidirectional"] == "true", dirs = bi ? 2 : 1
                var w: [RecurrentWeights] = []
                for l in 0..<L {
                    for d in 0..<dirs {
                        func t(_ base: String) -> FloatBuffer {
                            st.floats(st["rnn." + Recurrent.parameterName(base, layer: l, reverse: d == 1)]!)
                        }
                        w.append(RecurrentWeights(wIH: t("weight_ih"), wHH: t("weight_hh"), bIH: t("bias_ih"), bHH: t("bias_hh")))
                    }
                }
                let rnn = Recurrent(cell: cell, inputSize: D, hiddenSize: H, numLayers: L, bidirectional: bi, weights: w)
                let input = st["input"]!
                let B = input.shape[0], T = input.shape[1]
                let lengths = st.ints(st["lengths"]!)
                XCTAssertTrue(lengths.contains(1) && lengths.contains(T), "\(f): lengths \(lengths) cover 1 and T")
                let batch = PackedBatch(lengths: lengths)
                let packed = batch.pack(st.floats(input), steps: T, width: D)
                let h0 = st.floats(st["h0"]!)
                let c0 = st["c0"].map { st.floats($0) }
                let out = rnn.forward(packed, batch: batch, h0: h0, c0: c0)
                assertClose(batch.unpack(out.output, steps: T, width: dirs * H), st.floats(st["output"]!), "\(f) output")
                assertClose(out.h, st.floats(st["h_n"]!), "\(f) h_n")
                if cell == .lstm { assertClose(out.c!, st.floats(st["c_n"]!), "\(f) c_n") }
                XCTAssertEqual(B, lengths.count)
            }
        }
    }

    /// Padding must never matter: the same sequences alone and in a batch give the same states.
    func testEachSequenceAloneEqualsItsRowInTheBatch() throws {
        let model = makeModel(kind: .sentiment, cell: .gru, layers: 2, bidirectional: true)
        guard case let .sentiment(s) = model else { return XCTFail() }
        let seqs: [[Int32]] = [[2, 3, 4], [5], [6, 7, 2, 3, 4, 5], [], [4, 4]]
        let together = s.logits(batch: seqs)
        for (k, q) in seqs.enumerated() {
            XCTAssertEqual(together[k], s.logit(ids: q), accuracy: 1e-6, "sequence \(k)")
        }
    }
}

/// `scoreBatch` promises each text the bits `score` gives it: reviews run 16 at a time through
/// the 4-row kernels, with remainders, mixed lengths, empty texts and hidden sizes that are not
/// a multiple of the 64-wide kernel block.
final class BatchIdentityTests: XCTestCase {
    func testScoreBatchGivesEachReviewTheBitsOfScore() throws {
        let words = ["good", "bad", "great", "awful", "movie", "the", "zzz", "<pad>"]
        var rng = RandomSource(seed: 9)
        let texts: [String] = (0..<53).map { i in
            if i % 17 == 5 { return "" }
            let n = Int(rng.next() % 40) + (i % 7 == 0 ? 120 : 0)
            return (0..<n).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
        }
        let shapes: [(CellKind, Int, Bool, Int)] = [(.lstm, 1, false, 64), (.lstm, 2, true, 40), (.gru, 1, true, 64),
                                                    (.gru, 2, false, 7), (.rnnTanh, 1, false, 70), (.rnnRelu, 2, true, 16)]
        for (cell, layers, bi, H) in shapes {
            let model = makeModel(kind: .sentiment, cell: cell, layers: layers, bidirectional: bi, E: 12, H: H)
            guard case let .sentiment(s) = model else { return XCTFail() }
            let alone = texts.map { s.score($0) }
            for threads in [1, 2] {
                let batch = s.scoreBatch(texts, threads: threads)
                for k in texts.indices where batch[k].bitPattern != alone[k].bitPattern {
                    XCTFail("\(cell) L\(layers) bi \(bi) H\(H) threads \(threads): text \(k) \(batch[k]) vs \(alone[k])")
                }
            }
        }
    }
}

/// Generation split over two threads (`StepTeam`) gives the bits of one thread: the same
/// logits at every step and the same text, for every cell, stacked layers, and hidden sizes
/// whose halves are not equal.
final class TwoThreadGenerationTests: XCTestCase {
    func testTwoThreadStepsEqualOneThreadSteps() throws {
        for (cell, layers, H) in [(CellKind.lstm, 1, 128), (.gru, 2, 144), (.rnnTanh, 1, 200), (.rnnRelu, 2, 130)] {
            let model = makeModel(kind: .charlm, cell: cell, layers: layers, H: H)
            guard case let .charlm(m) = model else { return XCTFail() }
            let team = try XCTUnwrap(StepTeam())
            defer { team.stop() }
            var a = m.makeState(), b = m.makeState()
            for (k, id) in [2, 3, 5, 7, 1, 0, 11, 4, 4, 9].map(Int32.init).enumerated() {
                m.step(id, &a)
                m.step(id, &b, team: team)
                XCTAssertEqual(a.logits.map(\.bitPattern), b.logits.map(\.bitPattern), "\(cell) L\(layers) H\(H) step \(k)")
                XCTAssertEqual(a.h.map(\.bitPattern), b.h.map(\.bitPattern), "\(cell) L\(layers) H\(H) step \(k): h")
            }
            // The random 2-layer rnn_relu model's state outgrows Float within 200 steps: both
            // runs must then fail the same way (NON_FINITE), never return text.
            let one = Result { () throws(SwiftRNNError) in try Generator.sample(model: m, prime: "The", count: 200, parameters: .init(seed: 3)) }
            let two = Result { () throws(SwiftRNNError) in try Generator.sample(model: m, prime: "The", count: 200, parameters: .init(seed: 3, threads: 2)) }
            XCTAssertEqual(one, two, "\(cell) L\(layers) H\(H)")
            if cell != .rnnRelu { XCTAssertNoThrow(try one.get(), "\(cell)") }
        }
        XCTAssertNil(StepTeam()?.split(64), "small layers are not split")
    }
}

final class ModelParityTests: XCTestCase {
    func testSentimentFixturesMatchTheBookPipeline() throws {
        let names = ["sentiment_lstm_uni", "sentiment_lstm_bi", "sentiment_gru_bi", "sentiment_rnn_tanh_uni",
                     "sentiment_lstm_bi_concat", "sentiment_gru_uni_concat"]
        for name in names {
            let model = try Model.load(path: fixturePath("models/\(name).safetensors"))
            guard case let .sentiment(s) = model else { XCTFail("\(name) is not a sentiment model"); continue }
            let exp = try XCTUnwrap(readJSON("models/\(name).expected.json") as? [String: Any])
            let texts = exp["texts"] as! [String]
            let ids = (exp["token_ids"] as! [[Int]]).map { $0.map(Int32.init) }
            let probs = (exp["probabilities"] as! [Double]).map(Float.init)
            for (k, t) in texts.enumerated() {
                let mine = s.encode(t)
                XCTAssertEqual(mine, ids[k], "\(name): ids of \(t.debugDescription)")
                XCTAssertEqual(s.score(t), probs[k], accuracy: 1e-5, "\(name): probability of \(t.debugDescription)")
            }
            assertClose(s.scoreBatch(texts, threads: 2), probs, "\(name) batch")
        }
    }

    func testCharModelFixturesMatchStepByStepLogits() throws {
        for name in ["charlm_small", "charlm_gru2"] {
            let model = try Model.load(path: fixturePath("models/\(name).safetensors"))
            guard case let .charlm(m) = model else { XCTFail("\(name) is not a charlm"); continue }
            let exp = try XCTUnwrap(readJSON("models/\(name).expected.json") as? [String: Any])
            let text = exp["text"] as! String
            let ids = try m.table.encode(text)
            XCTAssertEqual(ids, (exp["ids"] as! [Int]).map(Int32.init))
            let logits = (exp["logits"] as! [[Double]]).map { $0.map(Float.init) }
            var s = m.makeState()
            for (t, id) in ids.enumerated() where t < logits.count {
                m.step(id, &s)
                assertClose(s.logits, logits[t], "\(name) step \(t)")
            }
            let (nats, predicted) = try m.negativeLogLikelihood(text)
            XCTAssertEqual(predicted, exp["predicted"] as! Int)
            XCTAssertEqual(nats, exp["nats"] as! Double, accuracy: 1e-3 * max(1, nats / 100))
        }
    }
}
