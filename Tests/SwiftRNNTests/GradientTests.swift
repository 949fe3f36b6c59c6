import Foundation
import XCTest
@testable import SwiftRNN
@testable import SwiftRNNTraining

/// The largest difference relative to the tensor's largest value: float32 accumulation order
/// differs from PyTorch's, so elements near zero carry absolute, not relative, noise.
func maxRelErr<A: Sequence, B: Sequence>(_ a: A, _ b: B) -> Float where A.Element == Float, B.Element == Float {
    var d: Float = 0, scale: Float = 1e-12
    for (x, y) in zip(a, b) { d = max(d, abs(x - y)); scale = max(scale, abs(y)) }
    return d / scale
}

final class GradientTests: XCTestCase {
    /// BPTT against PyTorch's autograd on every layer fixture: loss = sum(output * g_out) +
    /// sum(h_n * g_hn), gradients of every weight and of the input within 1e-4 relative.
    func testRecurrentGradientsMatchPyTorch() throws {
        let dir = fixturesDir.appendingPathComponent("layers")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".safetensors") }.sorted()
        XCTAssertEqual(files.count, 16)
        for f in files {
            try withSafeTensors(dir.appendingPathComponent(f).path) { st in
                let m = st.metadata
                let cell = CellKind(rawValue: m["cell"]!)!
                let D = Int(m["input_size"]!)!, H = Int(m["hidden_size"]!)!, L = Int(m["num_layers"]!)!
                let bi = m["bidirectional"] == "true", dirs = bi ? 2 : 1
                var w: [RecurrentWeights] = []
                for l in 0..<L {
                    for d in 0..<dirs {
                        func t(_ base: String) -> FloatBuffer { st.floats(st["rnn." + Recurrent.parameterName(base, layer: l, reverse: d == 1)]!) }
                        w.append(RecurrentWeights(wIH: t("weight_ih"), wHH: t("weight_hh"), bIH: t("bias_ih"), bHH: t("bias_hh")))
                    }
                }
                let rnn = Recurrent(cell: cell, inputSize: D, hiddenSize: H, numLayers: L, bidirectional: bi, weights: w)
                let T = st["input"]!.shape[1]
                let batch = PackedBatch(lengths: st.ints(st["lengths"]!))
                let x = batch.pack(st.floats(st["input"]!), steps: T, width: D)
                let h0 = st.floats(st["h0"]!), c0 = st["c0"].map { st.floats($0) }
                let tape = RecurrentTape(layers: L, directions: dirs)
                let out = rnn.forward(x, batch: batch, h0: h0, c0: c0, tape: tape)
                var grads = rnn.weights.map { RecurrentWeights(wIH: $0.wIH.map { _ in 0 }, wHH: $0.wHH.map { _ in 0 },
                                                                bIH: $0.bIH.map { _ in 0 }, bHH: $0.bHH.map { _ in 0 }) }
                let dOut = batch.pack(st.floats(st["grad_output"]!), steps: T, width: dirs * H)
                let dx = rnn.backward(batch: batch, tape: tape, output: out.output, dOutput: dOut,
                                      dhN: st.floats(st["grad_h_n"]!), h0: h0, c0: c0, grads: &grads)
                for l in 0..<L {
                    for d in 0..<dirs {
                        let g = grads[l * dirs + d]
                        for (name, mine) in [("weight_ih", g.wIH), ("weight_hh", g.wHH), ("bias_ih", g.bIH), ("bias_hh", g.bHH)] {
                            let key = "grad.rnn." + Recurrent.parameterName(name, layer: l, reverse: d == 1)
                            let want = st.floats(st[key]!)
                            XCTAssertLessThanOrEqual(maxRelErr(mine, want), 1e-4, "\(f) \(key)")
                        }
                    }
                }
                let dxPadded = batch.unpack(dx, steps: T, width: D)
                XCTAssertLessThanOrEqual(maxRelErr(dxPadded, st.floats(st["grad.input"]!)), 1e-4, "\(f) grad.input")
            }
        }
    }

    /// Finite differences (in double-checked float) through a whole sentiment model: embedding,
    /// the recurrent stack, Linear, ReLU and the BCE loss, for every cell kind.
    func testSentimentModelGradientsByFiniteDifferences() throws {
        for cell in CellKind.allCases where cell != .jordan {  // charlm only: JordanTests
            let model = makeModel(kind: .sentiment, cell: cell, layers: 2, bidirectional: true, E: 4, H: 3, seed: 9)
            let batch: [[Int32]] = [[2, 3, 4, 0, 5], [6], [7, 2, 3]]
            let labels: [Float] = [1, 0, 1]
            var trainer = SentimentTrainer(weights: model.weights, config: model.config,
                                           options: .init(learningRate: 0, threads: 1, dropout: 0))
            let (_, grads, _) = trainer.lossAndGradients(batch: batch, labels: labels)
            var w = model.weights
            let eps: Float = 3e-3
            for (name, path) in w.parameterPaths {
                let n = w[keyPath: path].count
                for k in Swift.stride(from: 0, to: n, by: max(1, n / 7)) {
                    let orig = w[keyPath: path][k]
                    w[keyPath: path][k] = orig + eps
                    let lp = trainer.loss(weights: w, batch: batch, labels: labels)
                    w[keyPath: path][k] = orig - eps
                    let lm = trainer.loss(weights: w, batch: batch, labels: labels)
                    w[keyPath: path][k] = orig
                    let numeric = Float((lp - lm) / Double(2 * eps))
                    let analytic = grads[keyPath: path][k]
                    XCTAssertEqual(analytic, numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "\(cell) \(name)[\(k)]")
                }
            }
            // The padding row never gets a gradient.
            XCTAssertTrue(grads.embedding.weight[0..<4].allSatisfy { $0 == 0 }, "\(cell): padding row")
        }
    }

    func testCharModelGradientsByFiniteDifferences() throws {
        for cell in [CellKind.lstm, .gru] {
            let model = makeModel(kind: .charlm, cell: cell, layers: 2, E: 4, H: 3, seed: 4)
            let streams: [[Int32]] = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
            var trainer = CharLMTrainer(weights: model.weights, config: model.config,
                                        options: .init(learningRate: 0, batchSize: 2, seqLength: 4, threads: 1))
            let (_, grads, _) = trainer.lossAndGradients(windows: streams, state: nil)
            var w = model.weights
            let eps: Float = 1e-2
            for (name, path) in w.parameterPaths {
                let n = w[keyPath: path].count
                for k in Swift.stride(from: 0, to: n, by: max(1, n / 5)) {
                    let orig = w[keyPath: path][k]
                    w[keyPath: path][k] = orig + eps
                    trainer.weights = w
                    let lp = trainer.lossAndGradients(windows: streams, state: nil).loss
                    w[keyPath: path][k] = orig - eps
                    trainer.weights = w
                    let lm = trainer.lossAndGradients(windows: streams, state: nil).loss
                    w[keyPath: path][k] = orig
                    trainer.weights = w
                    let numeric = Float((lp - lm) / Double(2 * eps))
                    XCTAssertEqual(grads[keyPath: path][k], numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "\(cell) \(name)[\(k)]")
                }
            }
        }
    }

    /// The whole book sentiment model against PyTorch's autograd: embedding (padding row
    /// excluded), the recurrent stack, Linear, ReLU and BCE, on one batch of mixed lengths.
    func testSentimentModelGradientsMatchPyTorch() throws {
        for name in ["sentiment_lstm_bi", "sentiment_gru_bi", "sentiment_lstm_bi_concat", "sentiment_gru_uni_concat"] {
            let model = try Model.load(path: fixturePath("models/\(name).safetensors"))
            try withSafeTensors(fixturePath("models/\(name).grads.safetensors")) { st in
                let flat = st.ints(st["ids"]!).map(Int32.init), lengths = st.ints(st["lengths"]!)
                var batch: [[Int32]] = [], at = 0
                for l in lengths { batch.append(Array(flat[at..<(at + l)])); at += l }
                let labels = st.floats(st["labels"]!).array
                var trainer = SentimentTrainer(weights: model.weights, config: model.config,
                                               options: .init(learningRate: 0, threads: 1, dropout: 0))
                let (loss, grads, _) = trainer.lossAndGradients(batch: batch, labels: labels)
                XCTAssertEqual(Float(loss), st.floats(st["loss"]!)[0], accuracy: 1e-5, name)
                for (param, path) in grads.parameterPaths {
                    var torchName = param
                    if param.hasPrefix("head") {  // head0.weight -> fc1.weight
                        let k = Int(param.dropFirst(4).prefix(while: { $0.isNumber }))!
                        torchName = model.config.head[k] + param.drop(while: { $0 != "." })
                    }
                    let want = st.floats(try XCTUnwrap(st["grad." + torchName], "grad.\(torchName)"))
                    XCTAssertLessThanOrEqual(maxRelErr(grads[keyPath: path], want), 1e-4, "\(name) \(torchName)")
                }
            }
        }
    }

    /// The book's char model training step against PyTorch: embedding, LSTM, fc, cross-entropy.
    func testCharModelGradientsMatchPyTorch() throws {
        let model = try Model.load(path: fixturePath("models/charlm_small.safetensors"))
        try withSafeTensors(fixturePath("models/charlm_small.grads.safetensors")) { st in
            let w = st["windows"]!
            let flat = st.ints(w).map(Int32.init), len = w.shape[1]
            let windows = (0..<w.shape[0]).map { Array(flat[($0 * len)..<(($0 + 1) * len)]) }
            var trainer = CharLMTrainer(weights: model.weights, config: model.config,
                                        options: .init(learningRate: 0, batchSize: windows.count, seqLength: len - 1, threads: 2))
            let (loss, grads, _) = trainer.lossAndGradients(windows: windows, state: nil)
            XCTAssertEqual(Float(loss), st.floats(st["loss"]!)[0], accuracy: 1e-5)
            for (param, path) in grads.parameterPaths {
                let torchName = param.hasPrefix("head0") ? "fc" + param.dropFirst(5) : param
                let want = st.floats(try XCTUnwrap(st["grad." + torchName], "grad.\(torchName)"))
                XCTAssertLessThanOrEqual(maxRelErr(grads[keyPath: path], want), 1e-4, torchName)
            }
        }
    }

    func testClippingBoundsTheNorm() {
        var g = makeModel(kind: .sentiment).weights
        let before = GradientClipping.clipGlobalNorm(&g, maxNorm: 0.5)
        XCTAssertGreaterThan(before, 0.5)
        var sq = 0.0
        for (_, p) in g.parameterPaths { for v in g[keyPath: p] { sq += Double(v * v) } }
        XCTAssertEqual(sq.squareRoot(), 0.5, accuracy: 1e-4)
        let again = GradientClipping.clipGlobalNorm(&g, maxNorm: 10)
        XCTAssertEqual(Double(again), 0.5, accuracy: 1e-4)
    }
}
