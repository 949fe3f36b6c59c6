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
    public func step(_ id: Int32, _ s: inout State, computeLogits: Bool = true) {
        let r = weights.rnn, H = r.hiddenSize, G = r.gateWidth
        s.x.withUnsafeMutableBufferPointer { xp in
        s.gx.withUnsafeMutableBufferPointer { gxp in
        s.gh.withUnsafeMutableBufferPointer { ghp in
        s.h.withUnsafeMutableBufferPointer { hp in
        s.c.withUnsafeMutableBufferPointer { cp in
            for layer in 0..<r.numLayers {
                let w = r.weights[layer], inW = r.layerInputSize(layer)
                let hl = hp.baseAddress!, cl = cp.baseAddress!
                let hlayer = hl + layer * H, clayer = cl + layer * H
                if layer == 0 {
                    inputTable.withUnsafeBufferPointer { gxp.baseAddress!.update(from: $0.baseAddress! + Int(id) * G, count: G) }
                } else {
                    w.wIH.withUnsafeBufferPointer {
                        Kernels.matvec($0.baseAddress!, rows: G, cols: inW, xp.baseAddress!, gxp.baseAddress!, accumulate: false)
                    }
                    w.bIH.withUnsafeBufferPointer { b in for q in 0..<G { gxp[q] += b[q] } }
                }
                w.wHH.withUnsafeBufferPointer {
                    Kernels.matvec($0.baseAddress!, rows: G, cols: H, hlayer, ghp.baseAddress!, accumulate: false)
                }
                w.bHH.withUnsafeBufferPointer { b in for q in 0..<G { ghp[q] += b[q] } }
                CellMath.step(r.cell, H: H, gx: gxp.baseAddress!, gh: ghp.baseAddress!, h: hlayer, c: clayer, tape: nil)
                xp.baseAddress!.update(from: hlayer, count: H)
            }
        }}}}}
        if computeLogits {
            let fc = weights.head[0]
            s.x.withUnsafeBufferPointer { xp in
                s.logits.withUnsafeMutableBufferPointer { fc.forward(xp.baseAddress!, rows: 1, into: $0.baseAddress!) }
            }
        }
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
