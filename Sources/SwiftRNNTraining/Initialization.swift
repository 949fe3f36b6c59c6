import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

/// PyTorch's default initialisation, so a model trained here starts where the book's does:
/// Embedding ~ N(0, 1) (padding row zero); RNN/LSTM/GRU weights and biases ~ U(-1/sqrt(H),
/// 1/sqrt(H)); Linear weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)). A Jordan cell's six tensors
/// (`weight_hy` and `bias_hy` included) ~ U(-1/sqrt(H), 1/sqrt(H)), as `JordanRNN` in
/// tools/torch_reference.py initialises them.
public enum Initialization {
    public static func pytorchDefault(config c: ModelConfig, headSizes: [Int], seed: UInt64) -> ModelWeights {
        var rng = RandomSource(seed: seed)
        func uniform(_ n: Int, _ bound: Float) -> [Float] {
            (0..<n).map { _ in Float(rng.unit() * 2 - 1) * bound }
        }
        func normal(_ n: Int) -> [Float] {
            (0..<n).map { _ in
                let u1 = max(rng.unit(), 1e-300), u2 = rng.unit()
                return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
            }
        }
        let V = c.vocabSize, E = c.embeddingDim, H = c.hiddenSize, D = c.directions, G = c.cell.gates * H
        let S = c.stateSize
        var emb = normal(V * E)
        if c.kind == .sentiment { for k in 0..<E { emb[k] = 0 } }
        let bound = 1 / Float(H).squareRoot()
        var w: [RecurrentWeights] = []
        for layer in 0..<c.numLayers {
            let input = layer == 0 ? E : D * S
            for _ in 0..<D {
                w.append(RecurrentWeights(wIH: uniform(G * input, bound), wHH: uniform(G * S, bound),
                                          bIH: uniform(G, bound), bHH: uniform(G, bound)))
                if c.cell == .jordan {
                    w[w.count - 1].wHR = FloatBuffer(uniform(S * H, bound))
                    w[w.count - 1].bHR = FloatBuffer(uniform(S, bound))
                }
            }
        }
        var head: [Linear] = []
        var width = c.featureWidth
        for out in headSizes {
            let b = 1 / Float(width).squareRoot()
            head.append(Linear(inFeatures: width, outFeatures: out, weight: uniform(out * width, b), bias: uniform(out, b)))
            width = out
        }
        var rnn = Recurrent(cell: c.cell, inputSize: E, hiddenSize: H, numLayers: c.numLayers, bidirectional: c.bidirectional,
                            weights: w)
        if c.cell == .jordan { rnn.projSize = S }
        return ModelWeights(
            embedding: Embedding(count: V, dimension: E, weight: emb, paddingIndex: c.kind == .sentiment ? 0 : nil),
            rnn: rnn, head: head, pooling: c.pooling)
    }
}
