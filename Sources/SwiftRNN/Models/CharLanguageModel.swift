/// The book's character language model: characters -> embedding -> recurrent stack -> `fc` ->
/// logits over the character table, run one step at a time for generation.
///
/// Immutable: one instance serves any number of threads; each generation has its own `State`.
public final class CharLanguageModel: Sendable {
    public let config: ModelConfig
    public let table: CharacterTable
    public let weights: ModelWeights

    public init(config: ModelConfig, weights: ModelWeights) throws(SwiftRNNError) {
        guard config.kind == .charlm else { throw .init(.wrongKind, "not a character model") }
        self.config = config
        self.table = try CharacterTable(entries: config.vocab)
        self.weights = weights
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
        let E = weights.embedding.dimension
        weights.embedding.weight.withUnsafeBufferPointer { w in
            s.x.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: w.baseAddress! + Int(id) * E, count: E) }
        }
        s.x.withUnsafeMutableBufferPointer { xp in
        s.gx.withUnsafeMutableBufferPointer { gxp in
        s.gh.withUnsafeMutableBufferPointer { ghp in
        s.h.withUnsafeMutableBufferPointer { hp in
        s.c.withUnsafeMutableBufferPointer { cp in
            for layer in 0..<r.numLayers {
                let w = r.weights[layer], inW = r.layerInputSize(layer)
                let hl = hp.baseAddress! + layer * H, cl = cp.baseAddress! + layer * H
                w.bIH.withUnsafeBufferPointer { gxp.baseAddress!.update(from: $0.baseAddress!, count: G) }
                w.bHH.withUnsafeBufferPointer { ghp.baseAddress!.update(from: $0.baseAddress!, count: G) }
                w.wIH.withUnsafeBufferPointer {
                    Kernels.gemmNT(m: 1, n: G, k: inW, xp.baseAddress!, lda: inW, $0.baseAddress!, gxp.baseAddress!, ldc: G, beta: 1)
                }
                w.wHH.withUnsafeBufferPointer {
                    Kernels.gemmNT(m: 1, n: G, k: H, hl, lda: H, $0.baseAddress!, ghp.baseAddress!, ldc: G, beta: 1)
                }
                CellMath.step(r.cell, H: H, gx: gxp.baseAddress!, gh: ghp.baseAddress!, h: hl, c: cl, tape: nil)
                xp.baseAddress!.update(from: hl, count: H)
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
