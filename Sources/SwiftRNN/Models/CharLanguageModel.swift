/// The book's character language model: characters -> embedding -> recurrent stack -> `fc` ->
/// logits over the character table, run one step at a time for generation.
///
/// Immutable: one instance serves any number of threads; each generation has its own `State`.
public final class CharLanguageModel: Sendable {
    public let config: ModelConfig
    public let table: CharacterTable
    public let weights: ModelWeights
    /// `W_ih_l0 . embedding[v] + b_ih_l0` for every character v (`[vocab, G*H]`): the embedding
    /// and the first input projection folded into one lookup, so a generation step reads no
    /// `W_ih_l0` (a third of the book model's weights).
    let inputTable: FloatBuffer
    /// The weights a step multiplies by, per layer (`W_ih` of layers after the first, `W_hh`)
    /// and the output layer's: kept in the file's half precision when it was half (issue 13;
    /// the same bits, half the bytes per step), else the float weights themselves.
    let stepIH: [WeightMatrix], stepHH: [WeightMatrix], stepFC: WeightMatrix
    /// Jordan cells: each layer's output projection `W_hy` (`[O, H]`); empty otherwise.
    let stepHY: [WeightMatrix]

    public init(config: ModelConfig, weights: ModelWeights) throws(SwiftRNNError) {
        guard config.kind == .charlm else { throw .init(.wrongKind, "not a character model") }
        self.config = config
        self.table = try CharacterTable(entries: config.vocab)
        self.weights = weights
        let V = weights.embedding.count, E = weights.embedding.dimension, G = weights.rnn.gateWidth
        var t = FloatBuffer(count: V * G)
        let w0 = weights.rnn.weights[0]
        Kernels.broadcastRows(w0.bIH.span(), into: t.mutableSpan(), m: V, ldc: G)
        Kernels.gemmNT(m: V, n: G, k: E, weights.embedding.weight.span(), lda: E, w0.wIH.span(), t.mutableSpan(), ldc: G, beta: 1)
        inputTable = t
        let r = weights.rnn, H = r.hiddenSize, S = r.stateSize
        stepIH = r.weights.indices.map { k in
            k == 0 ? .f32(FloatBuffer(count: 0))
                : weights.inferenceMatrix("rnn." + Recurrent.parameterName("weight_ih", layer: k, reverse: false),
                                          r.weights[k].wIH, rows: G, cols: r.layerInputSize(k))
        }
        stepHH = r.weights.indices.map { k in
            weights.inferenceMatrix("rnn." + Recurrent.parameterName(r.cell.stateWeightName, layer: k, reverse: false),
                                    r.weights[k].wHH, rows: G, cols: S)
        }
        stepHY = r.cell != .jordan ? [] : r.weights.indices.map { k in
            weights.inferenceMatrix("rnn." + Recurrent.parameterName("weight_hy", layer: k, reverse: false),
                                    r.weights[k].wHR ?? FloatBuffer(count: S * H), rows: S, cols: H)
        }
        let fc = weights.head[0]
        stepFC = weights.inferenceMatrix(config.head[0] + ".weight", fc.weight, rows: fc.outFeatures, cols: fc.inFeatures)
    }

    /// What steps multiply by: "int8", "f16", "bf16" or "f32".
    public var stepPrecision: String {
        if stepHH.first?.isInt8 == true { return "int8" }
        guard stepHH.first?.isHalf == true, let k = weights.halfKind else { return "f32" }
        return k == .f16 ? "f16" : "bf16"
    }

    /// The recurrent state of one generation plus its scratch space: a step allocates nothing.
    public struct State {
        /// `[layers, state]`: `h` (`hidden_size`), or a Jordan cell's previous output `y`
        /// (`output_size`).
        public var h: FloatBuffer
        public var c: FloatBuffer      // [layers, state] (LSTM; zeros for the others)
        /// Jordan cells: the hidden `h` of the current layer before its projection (scratch).
        var raw: FloatBuffer
        var x: FloatBuffer             // the current layer's input
        var gx: FloatBuffer            // [G*hidden]
        var gh: FloatBuffer            // [G*hidden]
        public var logits: FloatBuffer // [vocab], the last step's output
        /// int8 models: the current layer's input and state, quantized (scratch).
        let qx: QuantizedVector, qh: QuantizedVector
        /// Jordan cells with int8 weights: `raw`, quantized for `W_hy` (scratch).
        let qraw: QuantizedVector
    }

    public func makeState() -> State {
        let r = weights.rnn, S = r.stateSize, LS = r.numLayers * S, jordan = r.cell == .jordan
        return State(h: FloatBuffer(count: LS), c: FloatBuffer(count: LS), raw: FloatBuffer(count: jordan ? r.hiddenSize : 0),
                     x: FloatBuffer(count: max(r.inputSize, S)),
                     gx: FloatBuffer(count: r.gateWidth), gh: FloatBuffer(count: r.gateWidth),
                     logits: FloatBuffer(count: config.vocabSize),
                     qx: QuantizedVector(length: max(r.inputSize, S)), qh: QuantizedVector(length: S),
                     qraw: QuantizedVector(length: jordan ? r.hiddenSize : 0))
    }

    /// Feeds character `id`; `state.logits` then holds the scores of the next character.
    /// With a `team`, the hidden units are split between the calling thread and the team's
    /// helper; every unit is computed by the same code either way, so the logits are the same
    /// bits with or without it.
    public func step(_ id: Int32, _ s: inout State, computeLogits: Bool = true, team: StepTeam? = nil) {
        let r = weights.rnn, H = r.hiddenSize, S = r.stateSize
        let b = StepBuffers(x: s.x.mutableSpan(), gx: s.gx.mutableSpan(), gh: s.gh.mutableSpan(), h: s.h.mutableSpan(),
                            c: s.c.mutableSpan(), raw: s.raw.mutableSpan(), qx: s.qx, qh: s.qh, id: id)
        for layer in 0..<r.numLayers {
            // int8: the layer's input and state quantized once, before the units are split.
            if stepHH[layer].isInt8 { Kernels.quantize(b.h.readOnly.slice(layer * S, S), into: b.qh) }
            if stepIH[layer].isInt8 { Kernels.quantize(b.x.readOnly.slice(0, r.layerInputSize(layer)), into: b.qx) }
            if let team, let split = team.split(H) {
                // Both halves read the old h for their gates before either writes the new one.
                team.run { self.gates(layer: layer, units: split..<H, b) }
                    mine: { self.gates(layer: layer, units: 0..<split, b) }
                team.run { self.cell(layer: layer, units: split..<H, b) }
                    mine: { self.cell(layer: layer, units: 0..<split, b) }
            } else {
                gates(layer: layer, units: 0..<H, b)
                cell(layer: layer, units: 0..<H, b)
            }
            if r.cell == .jordan {
                // y = b_hy + W_hy h: the layer's output and its new state (the projection of the
                // training forward, `Recurrent.runDirection`, with the same operations).
                let y = b.h.slice(layer * S, S), wy = stepHY[layer]
                if let by = r.weights[layer].bHR { y.copy(from: by.span()) } else { y.fill(0) }
                if wy.isInt8 { Kernels.quantize(b.raw.readOnly, into: s.qraw) }
                Kernels.matvec(wy.span(), rows: S, cols: H, b.raw.readOnly, quantized: s.qraw, y, accumulate: true)
            }
            b.x.slice(0, S).copy(from: b.h.readOnly.slice(layer * S, S))
        }
        if computeLogits {
            let fc = weights.head[0], y = s.logits.mutableSpan(), x = s.x.span(0, fc.inFeatures)
            y.copy(from: fc.bias.span())
            if stepFC.isInt8 { Kernels.quantize(x, into: s.qx) }
            Kernels.matvec(stepFC.span(), rows: fc.outFeatures, cols: fc.inFeatures, x, quantized: s.qx, y, accumulate: true)
        }
    }

    /// The step's buffers (spans of the state), which a helper thread uses while `step` holds
    /// the state.
    struct StepBuffers: Sendable {
        let x, gx, gh, h, c, raw: MutableFloatSpan
        let qx, qh: QuantizedVector
        let id: Int32
    }

    /// Gate pre-activations of `units` of `layer`: `gx` from the input (layer 0: the folded
    /// table row), `gh = W_hh h + b_hh`; each gate's rows of those units.
    func gates(layer: Int, units: Range<Int>, _ b: StepBuffers) {
        let r = weights.rnn, H = r.hiddenSize, S = r.stateSize, G = r.gateWidth, w = r.weights[layer], inW = r.layerInputSize(layer)
        let wIH = stepIH[layer], wHH = stepHH[layer]
        let n = units.count
        for g in 0..<r.cell.gates {
            let r0 = g * H + units.lowerBound
            let gx = b.gx.slice(r0, n), gh = b.gh.slice(r0, n)
            if layer == 0 {
                gx.copy(from: inputTable.span(Int(b.id) * G + r0, n))
            } else {
                Kernels.matvec(wIH.span(r0 * inW, n * inW), rows: n, cols: inW, b.x.readOnly.slice(0, inW), quantized: b.qx, gx,
                               accumulate: false)
                Kernels.add(w.bIH.span(r0, n), into: gx)
            }
            Kernels.matvec(wHH.span(r0 * S, n * S), rows: n, cols: S, b.h.readOnly.slice(layer * S, S), quantized: b.qh, gh,
                           accumulate: false)
            Kernels.add(w.bHH.span(r0, n), into: gh)
        }
    }

    /// The cell update of `units` of `layer` (new h and c in place; a Jordan cell writes its
    /// hidden `h` to `raw`, and `step` projects it).
    func cell(layer: Int, units: Range<Int>, _ b: StepBuffers) {
        let r = weights.rnn, H = r.hiddenSize, u = units.lowerBound, n = units.count
        let G = r.cell.gates
        if r.cell == .jordan {
            // The tanh cell reads no c; `raw` stands in for it.
            CellMath.steps(r.cell, H: n, gateStride: H, rows: 1, gx: b.gx.readOnly.slice(u, n), gxStride: 0,
                           gh: b.gh.readOnly.slice(u, n), ghStride: 0, h: b.raw.slice(u, n), c: b.raw.slice(u, n))
            return
        }
        CellMath.steps(r.cell, H: n, gateStride: H, rows: 1, gx: b.gx.readOnly.slice(u, (G - 1) * H + n), gxStride: 0,
                       gh: b.gh.readOnly.slice(u, (G - 1) * H + n), ghStride: 0,
                       h: b.h.slice(layer * H + u, n), c: b.c.slice(layer * H + u, n))
    }

    /// `nats`: negative log-likelihood of every character after the first given all before it.
    public func negativeLogLikelihood(_ text: String) throws(SwiftRNNError) -> (nats: Double, predicted: Int) {
        let ids = try table.encode(text)
        guard ids.count >= 2 else { return (0, 0) }
        var s = makeState()
        var nats = 0.0
        for k in 0..<(ids.count - 1) {
            step(ids[k], &s)
            let lse = Kernels.logSumExp(s.logits.span())
            nats += lse - Double(s.logits[Int(ids[k + 1])])
        }
        return (nats, ids.count - 1)
    }
}
