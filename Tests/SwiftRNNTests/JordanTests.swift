import CSwiftRNN
import Foundation
import SwiftRNNABI
import XCTest
@testable import SwiftRNN
@testable import SwiftRNNTraining

/// The Jordan cell (output recurrence, docs/jordan.md) against tools/torch_reference.JordanRNN:
/// fixtures from tools/make_jordan_fixtures.py. Forward within 1e-5 absolute, gradients within
/// 1e-4 relative; loading, generation, state, training and bad files.
final class JordanTests: XCTestCase {
    func tmp(_ name: String) -> String { scratchPath("jordan-tests", name) }

    func charModel() throws -> CharLanguageModel {
        guard case let .charlm(m) = try Model.load(path: fixturePath("models/charlm_jordan.safetensors")) else {
            throw XCTSkip("not a charlm")
        }
        return m
    }

    /// One 2-layer JordanRNN over a batch of mixed lengths (packed semantics), from a given
    /// state: output, final state and every gradient (weights, input) equal PyTorch's.
    func testLayerForwardAndGradientsMatchPyTorch() throws {
        try withSafeTensors(fixturePath("jordan/layer_l2.safetensors")) { st in
            let m = st.metadata
            XCTAssertEqual(m["cell"], "jordan")
            let I = Int(m["input_size"]!)!, H = Int(m["hidden_size"]!)!, O = Int(m["output_size"]!)!, L = Int(m["num_layers"]!)!
            func t(_ base: String, _ l: Int) -> FloatBuffer { st.floats(st["rnn." + Recurrent.parameterName(base, layer: l, reverse: false)]!) }
            var w: [RecurrentWeights] = []
            for l in 0..<L {
                var rw = RecurrentWeights(wIH: t("weight_ih", l), wHH: t("weight_ho", l), bIH: t("bias_ih", l), bHH: t("bias_ho", l))
                rw.wHR = t("weight_hy", l)
                rw.bHR = t("bias_hy", l)
                w.append(rw)
            }
            var rnn = Recurrent(cell: .jordan, inputSize: I, hiddenSize: H, numLayers: L, bidirectional: false, weights: w)
            rnn.projSize = O
            let T = st["input"]!.shape[1]
            let batch = PackedBatch(lengths: st.ints(st["lengths"]!))
            let x = batch.pack(st.floats(st["input"]!), steps: T, width: I)
            let y0 = st.floats(st["y0"]!)
            // Inference (no tape) and training (tape) forwards.
            let plain = rnn.forward(x, batch: batch, h0: y0)
            assertClose(batch.unpack(plain.output, steps: T, width: O), st.floats(st["output"]!), "output")
            assertClose(plain.h, st.floats(st["y_n"]!), "y_n")
            let tape = RecurrentTape(layers: L, directions: 1)
            let out = rnn.forward(x, batch: batch, h0: y0, tape: tape)
            XCTAssertEqual(out.output, plain.output)
            var grads = rnn.weights.map { rw -> RecurrentWeights in
                var g = RecurrentWeights(wIH: FloatBuffer(count: rw.wIH.count), wHH: FloatBuffer(count: rw.wHH.count),
                                         bIH: FloatBuffer(count: rw.bIH.count), bHH: FloatBuffer(count: rw.bHH.count))
                g.wHR = FloatBuffer(count: rw.wHR!.count)
                g.bHR = FloatBuffer(count: rw.bHR!.count)
                return g
            }
            let dOut = batch.pack(st.floats(st["grad_output"]!), steps: T, width: O)
            let dx = rnn.backward(batch: batch, tape: tape, output: out.output, dOutput: dOut,
                                  dhN: st.floats(st["grad_y_n"]!), h0: y0, grads: &grads)
            for l in 0..<L {
                let g = grads[l]
                for (name, mine) in [("weight_ih", g.wIH), ("weight_ho", g.wHH), ("bias_ih", g.bIH), ("bias_ho", g.bHH),
                                     ("weight_hy", g.wHR!), ("bias_hy", g.bHR!)] {
                    let key = "grad.rnn." + Recurrent.parameterName(name, layer: l, reverse: false)
                    XCTAssertLessThanOrEqual(maxRelErr(mine, st.floats(st[key]!)), 1e-4, key)
                }
            }
            XCTAssertLessThanOrEqual(maxRelErr(batch.unpack(dx, steps: T, width: I), st.floats(st["grad.input"]!)), 1e-4, "grad.input")
        }
    }

    /// The exported CharJordan: generation steps (state carried), the likelihood, the batch
    /// forward training uses and the chunked likelihood `eval charlm` uses, against PyTorch.
    func testCharModelMatchesPyTorch() throws {
        let m = try charModel()
        XCTAssertEqual(m.config.cell, .jordan)
        XCTAssertEqual(m.config.outputSize, 7)
        XCTAssertEqual(m.config.numLayers, 2)
        let exp = try XCTUnwrap(readJSON("models/charlm_jordan.expected.json") as? [String: Any])
        let ids = (exp["ids"] as! [Int]).map(Int32.init)
        let want = (exp["logits"] as! [[Double]]).map { $0.map(Float.init) }
        XCTAssertEqual(try m.table.encode(exp["text"] as! String), ids)
        var s = m.makeState()
        for (t, id) in ids.enumerated() {
            m.step(id, &s)
            assertClose(s.logits.array, want[t], "step \(t)")
        }
        let (nats, n) = try m.negativeLogLikelihood(exp["text"] as! String)
        XCTAssertEqual(n, exp["predicted"] as! Int)
        XCTAssertEqual(nats, exp["nats"] as! Double, accuracy: 1e-4)
        let batch = PackedBatch(lengths: [ids.count])
        let (logits, _) = LanguageModel.forward(m.weights, ids: ids, batch: batch, h0: nil, c0: nil, tape: nil)
        assertClose(logits.array, want.flatMap { $0 }, "batch forward")
        let (nats2, n2) = LanguageModel.negativeLogLikelihood(m.weights, ids: ids, chunk: 5)
        XCTAssertEqual(n2, n)
        XCTAssertEqual(nats2, exp["nats"] as! Double, accuracy: 1e-4)
        // Both halves of a step on two threads give the same bits as one.
        let team = StepTeam()
        var a = m.makeState(), b = m.makeState()
        for id in ids {
            m.step(id, &a)
            m.step(id, &b, team: team)
            XCTAssertEqual(a.logits, b.logits)
        }
    }

    /// A training step's loss and gradients, from a zero state and from a carried state.
    func testCharModelGradientsMatchPyTorch() throws {
        let model = try Model.load(path: fixturePath("models/charlm_jordan.safetensors"))
        try withSafeTensors(fixturePath("models/charlm_jordan.grads.safetensors")) { st in
            let w = st["windows"]!
            let flat = st.ints(w).map(Int32.init), len = w.shape[1]
            let windows = (0..<w.shape[0]).map { Array(flat[($0 * len)..<(($0 + 1) * len)]) }
            var trainer = CharLMTrainer(weights: model.weights, config: model.config,
                                        options: .init(learningRate: 0, batchSize: windows.count, seqLength: len - 1, threads: 2))
            let carried = CharLMTrainer.StreamState(h: st.floats(st["y0"]!), c: FloatBuffer(count: 0))
            for (suffix, state) in [("", nil), ("2", carried)] as [(String, CharLMTrainer.StreamState?)] {
                let (loss, grads, final) = trainer.lossAndGradients(windows: windows, state: state)
                XCTAssertEqual(Float(loss), st.floats(st["loss" + suffix]!)[0], accuracy: 1e-5, "loss\(suffix)")
                XCTAssertEqual(final.h.count, 2 * windows.count * 7)
                var seen = 0
                for (param, path) in grads.parameterPaths {
                    let torchName = param.hasPrefix("head0") ? "fc" + param.dropFirst(5) : param
                    let want = st.floats(try XCTUnwrap(st["grad\(suffix)." + torchName], "grad\(suffix).\(torchName)"))
                    XCTAssertLessThanOrEqual(maxRelErr(grads[keyPath: path], want), 1e-4, "grad\(suffix).\(torchName)")
                    seen += 1
                }
                XCTAssertEqual(seen, 1 + 2 * 6 + 2)
            }
        }
    }

    /// Finite differences through a 1-layer model built in Swift (output wider than hidden).
    func testGradientsByFiniteDifferences() throws {
        var cfg = ModelConfig(kind: .charlm, cell: .jordan, vocabSize: 11, embeddingDim: 4, hiddenSize: 3, numLayers: 1,
                              bidirectional: false, head: ["fc"], vocab: (0..<11).map { String(UnicodeScalar(97 + $0)!) })
        cfg.outputSize = 5
        let weights = Initialization.pytorchDefault(config: cfg, headSizes: [11], seed: 3)
        let streams: [[Int32]] = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
        var trainer = CharLMTrainer(weights: weights, config: cfg, options: .init(learningRate: 0, batchSize: 2, seqLength: 4, threads: 1))
        let (_, grads, _) = trainer.lossAndGradients(windows: streams, state: nil)
        var w = weights
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
                XCTAssertEqual(grads[keyPath: path][k], numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "\(name)[\(k)]")
            }
        }
    }

    /// Saving writes the Jordan names and `output_size` and reads back the same model; the F16,
    /// BF16 and int8 conversions load and generate close to it; the C API describes it.
    func testSaveLoadConvertAndCAPI() throws {
        let model = try Model.load(path: fixturePath("models/charlm_jordan.safetensors"))
        let bytes = model.serialize()
        let back = try bytes.withUnsafeBytes { try Model.load(bytes: $0) }
        XCTAssertEqual(back.config, model.config)
        for (name, p) in model.weights.parameterPaths { XCTAssertEqual(back.weights[keyPath: p], model.weights[keyPath: p], name) }
        XCTAssertEqual(model.config.metadata.first { $0.0 == "output_size" }?.1, "7")
        let V = model.config.vocabSize
        XCTAssertEqual(model.weights.parameterCount,
                       V * 8 + (12 * 8 + 12 * 7 + 12 + 12 + 7 * 12 + 7) + (12 * 7 + 12 * 7 + 12 + 12 + 7 * 12 + 7) + V * 7 + V)
        guard case let .charlm(m) = model else { return XCTFail() }
        for dtype in [SafeTensors.DType.f16, .bf16, .i8] {
            let converted = try model.serialize(dtype: dtype).withUnsafeBytes { try Model.load(bytes: $0) }
            guard case let .charlm(c) = converted else { return XCTFail() }
            var a = m.makeState(), b = c.makeState()
            for id in try m.table.encode("The sea was deep") {
                m.step(id, &a)
                c.step(id, &b)
            }
            XCTAssertLessThan(maxAbsDiff(a.logits.array, b.logits.array), 0.25, "\(dtype)")
        }
        // Through the C API: the info says jordan, sampling works and is seeded.
        var h: OpaquePointer? = nil
        XCTAssertEqual(bytes.withUnsafeBytes { swiftrnn_model_load_from_memory($0.baseAddress, $0.count, &h) }, 0)
        defer { swiftrnn_model_free(h) }
        var info = swiftrnn_model_info()
        info.struct_size = MemoryLayout<swiftrnn_model_info>.size
        XCTAssertEqual(withUnsafeMutableBytes(of: &info) { swiftrnn_model_get_info(h, $0.baseAddress) }, 0)
        XCTAssertEqual(info.cell, SWIFTRNN_CELL_JORDAN)
        XCTAssertEqual(info.hidden_size, 12)
        XCTAssertEqual(info.n_parameters, UInt64(model.weights.parameterCount))
        let p = SamplingParameters(seed: 5)
        let one = try Generator.sample(model: m, prime: "The", count: 40, parameters: p)
        XCTAssertEqual(try Generator.sample(model: m, prime: "The", count: 40, parameters: p), one)
    }

    /// A generator's saved state (the outputs y of every layer) restores the same continuation.
    func testGeneratorStateRoundTrip() throws {
        let m = try charModel()
        let fp = m.stateFingerprint()
        var g = try Generator(model: m, prime: "The sea", parameters: SamplingParameters(seed: 9))
        for _ in 0..<7 { _ = try g.next() }
        let state = g.saveState(fingerprint: fp)
        var copy = g
        var want = ""
        for _ in 0..<50 { want.unicodeScalars.append(try copy.next()) }
        var h = try Generator(model: m, prime: "a", parameters: SamplingParameters(seed: 9))
        try state.withUnsafeBytes { try h.loadState($0, fingerprint: fp) }
        var got = ""
        for _ in 0..<50 { got.unicodeScalars.append(try h.next()) }
        XCTAssertEqual(got, want)
        // An LSTM's state of the same layer count is refused (another cell).
        let lstm = try Model.load(path: fixturePath("models/charlm_gru2.safetensors"))
        guard case let .charlm(other) = lstm else { return XCTFail() }
        var o = try Generator(model: other, prime: "T", parameters: SamplingParameters(seed: 1))
        assertThrows(.invalidArgument, "another model") { try state.withUnsafeBytes { try o.loadState($0, fingerprint: other.stateFingerprint()) } }
    }

    /// Training through the run (stateful TBPTT, checkpoint, resume) learns a repeated string,
    /// and a resumed run equals an uninterrupted one.
    func testTrainingLearnsAndResumesExactly() throws {
        let text = "THE MYSTERIOUS ISLAND\n" + String(repeating: "the sea was calm. ", count: 40) + "End of the Project Gutenberg"
        let path = tmp("corpus.txt")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let corpus = try CharCorpus(path: path)
        func config(_ name: String, iterations: Int, resume: Bool) -> CharLMRunConfig {
            var c = CharLMRunConfig(out: tmp(name))
            c.iterations = iterations; c.batchSize = 8; c.seqLength = 16; c.embeddingDim = 8; c.hiddenSize = 24
            c.cell = .jordan; c.outputSize = 16; c.learningRate = 0.02; c.threads = 2; c.tbptt = 8; c.clipNorm = 5
            c.checkpointEvery = 20; c.resume = resume
            return c
        }
        let r = try CharLMRun.run(config("j.safetensors", iterations: 150, resume: false), corpus: corpus)
        XCTAssertLessThan(r.lastLoss, 0.5, "nats/char on a repeated sentence")
        guard case let .charlm(m) = try Model.load(path: tmp("j.safetensors")) else { return XCTFail() }
        XCTAssertEqual(m.config.cell, .jordan)
        XCTAssertEqual(m.config.outputSize, 16)
        let out = try Generator.sample(model: m, prime: "the sea", count: 30, parameters: .init(greedy: true))
        XCTAssertTrue(out.hasPrefix("the sea was calm. the sea"), out)
        _ = try CharLMRun.run(config("r.safetensors", iterations: 60, resume: false), corpus: corpus)
        _ = try CharLMRun.run(config("r.safetensors", iterations: 150, resume: true), corpus: corpus)
        let a = try Checkpoint.load(path: tmp("j.safetensors.ckpt")), b = try Checkpoint.load(path: tmp("r.safetensors.ckpt"))
        for (name, p) in a.weights.parameterPaths { XCTAssertEqual(a.weights[keyPath: p], b.weights[keyPath: p], name) }
        // No output size: refused before training.
        var bad = config("bad.safetensors", iterations: 1, resume: false)
        bad.outputSize = 0
        assertThrows(.invalidArgument, "output size") { try CharLMRun.run(bad, corpus: corpus) }
    }

    // MARK: bad files

    /// The fixture's tensors and metadata, edited and written back.
    func edited(meta: (inout [(String, String)]) -> Void = { _ in },
                tensors edit: (inout [(name: String, shape: [Int], values: [Float])]) -> Void = { _ in }) throws -> [UInt8] {
        try withSafeTensors(fixturePath("models/charlm_jordan.safetensors")) { st in
            var list = st.entries.map { (name: $0.name, shape: $0.shape, values: st.floats($0).array) }
            var md = st.metadata.map { ($0.key, $0.value) }.sorted { $0.0 < $1.0 }
            meta(&md)
            edit(&list)
            var w = SafeTensorsWriter()
            w.metadata = md
            for t in list { w.add(t.name, shape: t.shape, floats: t.values) }
            return w.serialize()
        }
    }

    func load(_ bytes: [UInt8]) throws -> Model { try bytes.withUnsafeBytes { try Model.load(bytes: $0) } }

    func testMalformedFilesAreFormatErrorsNamingTheTensor() throws {
        _ = try load(try edited())  // the unedited rewrite loads
        for name in ["rnn.weight_hy_l1", "rnn.weight_ho_l0", "rnn.weight_ih_l1", "fc.weight"] {
            assertThrows(.format, "'\(name)'") { try load(try edited(tensors: { $0.removeAll { $0.name == name } })) }
        }
        // Wrong shapes: each names its tensor and the shape expected.
        for (name, shape) in [("rnn.weight_ho_l0", [12, 6]), ("rnn.weight_hy_l0", [12, 7]), ("rnn.bias_hy_l1", [8]),
                              ("rnn.weight_ih_l1", [12, 12]), ("fc.weight", [31, 12])] {
            assertThrows(.format, "'\(name)' has shape") {
                try load(try edited(tensors: { l in
                    let k = l.firstIndex { $0.name == name }!
                    l[k].shape = shape
                    l[k].values = [Float](repeating: 0.1, count: shape.reduce(1, *))
                }))
            }
        }
        // An LSTM's names in a jordan file, and a jordan name in an LSTM file.
        assertThrows(.format, "'rnn.weight_ho_l0'") {
            try load(try edited(tensors: { l in l[l.firstIndex { $0.name == "rnn.weight_ho_l0" }!].name = "rnn.weight_hh_l0" }))
        }
        assertThrows(.format, "does not use") {
            try load(try edited(tensors: { $0.append((name: "rnn.weight_hh_l0", shape: [12, 7], values: [Float](repeating: 0, count: 84))) }))
        }
        // Metadata: no output_size, a bad one, one on another cell, other kinds, bidirectional.
        func setMeta(_ key: String, _ value: String?) -> (inout [(String, String)]) -> Void {
            { md in md.removeAll { $0.0 == key }; if let value { md.append((key, value)) } }
        }
        assertThrows(.format, "output_size") { try load(try edited(meta: setMeta("output_size", nil))) }
        for v in ["0", "-1", "x", "70000"] {
            assertThrows(.format, "output_size") { try load(try edited(meta: setMeta("output_size", v))) }
        }
        assertThrows(.format, "'rnn.weight_ho_l0' has shape") { try load(try edited(meta: setMeta("output_size", "6"))) }
        assertThrows(.format, "output_size") {
            let g = makeModel(kind: .charlm, cell: .gru)
            var w = SafeTensorsWriter()
            w.metadata = g.config.metadata + [("output_size", "3")]
            g.weights.write(to: &w, config: g.config)
            return try load(w.serialize())
        }
        assertThrows(.unsupported, "charlm") { try load(try edited(meta: setMeta("kind", "wordlm"))) }
        assertThrows(.format, "unidirectional") { try load(try edited(meta: setMeta("bidirectional", "true"))) }
        assertThrows(.unsupported, "proj_size") { try load(try edited(meta: setMeta("proj_size", "3"))) }
        // A NaN in weight_hy is refused like any weight.
        assertThrows(.format, "'rnn.weight_hy_l0' contains") {
            try load(try edited(tensors: { l in l[l.firstIndex { $0.name == "rnn.weight_hy_l0" }!].values[3] = .nan }))
        }
        // A model made in memory with a jordan cell in another kind is refused, not run.
        let s = makeModel(kind: .sentiment)
        var c = s.config
        c.cell = .jordan
        c.outputSize = 3
        assertThrows(.unsupported, "jordan") { try Model.make(config: c, weights: s.weights) }
    }
}
