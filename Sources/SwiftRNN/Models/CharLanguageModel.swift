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
    let inputTable: [Float]

    public init(config: ModelConfig, weights: ModelWeights) throws(SwiftRNNError) {
        guard config.kind == .charlm else { throw .init(.wrongKind, "not a character model") }
        self.config = config
        self.table = try CharacterTable(entries: config.vocab)
        self.weights = weights
        let V = weights.embedding.count, E = weights.embedding.dimension, G = weights.rnn.gateWidth
        var t = [Float](repeating: 0, count: V * G)
        let w0 = weights.rnn.weights[0]
        t.withUnsafeMutableBufferPointer { tp in
            w0.bIH.withUnsafeBufferPointer { Kernels.broadcastRows($0.baseAddress!, n: G, into: tp.baseAddress!, m: V, ldc: G) }
            weights.embedding.weight.withUnsafeBufferPointer { ep in
                w0.wIH.withUnsafeBufferPointer { wp in
                    Kernels.gemmNT(m: V, n: G, k: E, ep.baseAddress!, lda: E, wp.baseAddress!, tp.baseAddress!, ldc: G, beta: 1)
                }
            }
        }
        inputTable = t
    }

    /// The recurrent state of one generation plus its scratch space: a step allocates nothing.
    public struct State {
        public var h: [Float]      // [layers, hidden]
        public var c: [Float]      // [layers, hidden]
        var x: [Float]             // the current layer's input
        var gx: [Float]            // [G*hidden]
        var gh: [Float]            // [G*hidden]
        public var logits: [Float] // [vocab], the last step's output
    }

    public func makeState() -> State {
        let r = weights.rnn, LH = r.numLayers * r.hiddenSize
        return State(h: .init(repeating: 0, count: LH), c: .init(repeating: 0, count: LH),
                     x: .init(repeating: 0, count: max(r.inputSize, r.hiddenSize)),
                     gx: .init(repeating: 0, count: r.gateWidth), gh: .init(repeating: 0, count: r.gateWidth),
                     logits: .init(repeating: 0, count: config.vocabSize))
    }

    /// Feeds character `id`; `state.logits` then holds the scores of the next character.
    /// With a `team`, the hidden units are split between the calling thread and the team's
    /// helper; every unit is computed by the same code either way, so the logits are the same
    /// bits with or without it.
    public func step(_ id: Int32, _ s: inout State, computeLogits: Bool = true, team: StepTeam? = nil) {
        let r = weights.rnn, H = r.hiddenSize
        s.x.withUnsafeMutableBufferPointer { xp in
        s.gx.withUnsafeMutableBufferPointer { gxp in
        s.gh.withUnsafeMutableBufferPointer { ghp in
        s.h.withUnsafeMutableBufferPointer { hp in
        s.c.withUnsafeMutableBufferPointer { cp in
            let b = StepBuffers(x: xp.baseAddress!, gx: gxp.baseAddress!, gh: ghp.baseAddress!, h: hp.baseAddress!,
                                c: cp.baseAddress!, id: id)
            for layer in 0..<r.numLayers {
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
                b.x.update(from: b.h + layer * H, count: H)
            }
        }}}}}
        if computeLogits {
            let fc = weights.head[0]
            s.x.withUnsafeBufferPointer { xp in
                s.logits.withUnsafeMutableBufferPointer { fc.forward(xp.baseAddress!, rows: 1, into: $0.baseAddress!) }
            }
        }
    }

    /// The step's buffers, as pointers a helper thread can use while `step` holds them.
    struct StepBuffers: @unchecked Sendable {
        let x, gx, gh, h, c: UnsafeMutablePointer<Float>
        let id: Int32
    }

    /// Gate pre-activations of `units` of `layer`: `gx` from the input (layer 0: the folded
    /// table row), `gh = W_hh h + b_hh`; each gate's rows of those units.
    func gates(layer: Int, units: Range<Int>, _ b: StepBuffers) {
        let r = weights.rnn, H = r.hiddenSize, G = r.gateWidth, w = r.weights[layer], inW = r.layerInputSize(layer)
        let n = units.count
        w.wHH.withUnsafeBufferPointer { whh in
        w.wIH.withUnsafeBufferPointer { wih in
        w.bIH.withUnsafeBufferPointer { bih in
        w.bHH.withUnsafeBufferPointer { bhh in
        inputTable.withUnsafeBufferPointer { table in
            for g in 0..<r.cell.gates {
                let r0 = g * H + units.lowerBound
                if layer == 0 {
                    (b.gx + r0).update(from: table.baseAddress! + Int(b.id) * G + r0, count: n)
                } else {
                    Kernels.matvec(wih.baseAddress! + r0 * inW, rows: n, cols: inW, b.x, b.gx + r0, accumulate: false)
                    for q in r0..<(r0 + n) { b.gx[q] += bih[q] }
                }
                Kernels.matvec(whh.baseAddress! + r0 * H, rows: n, cols: H, b.h + layer * H, b.gh + r0, accumulate: false)
                for q in r0..<(r0 + n) { b.gh[q] += bhh[q] }
            }
        }}}}}
    }

    /// The cell update of `units` of `layer` (new h and c in place).
    func cell(layer: Int, units: Range<Int>, _ b: StepBuffers) {
        let r = weights.rnn, H = r.hiddenSize, u = units.lowerBound
        CellMath.step(r.cell, H: units.count, gateStride: H, gx: b.gx + u, gh: b.gh + u,
                      h: b.h + layer * H + u, c: b.c + layer * H + u, tape: nil)
    }

    /// `nats`: negative log-likelihood of every character after the first given all before it.
    public func negativeLogLikelihood(_ text: String) throws(SwiftRNNError) -> (nats: Double, predicted: Int) {
        let ids = try table.encode(text)
        guard ids.count >= 2 else { return (0, 0) }
        var s = makeState()
        var nats = 0.0
        for k in 0..<(ids.count - 1) {
            step(ids[k], &s)
            let lse = s.logits.withUnsafeBufferPointer { Kernels.logSumExp($0) }
            nats += lse - Double(s.logits[Int(ids[k + 1])])
        }
        return (nats, ids.count - 1)
    }
}
