import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

/// `torch.optim.Adam` with PyTorch's defaults (betas 0.9/0.999, eps 1e-8, no weight decay) and
/// the same update: `p -= lr * m_hat / (sqrt(v_hat) + eps)`.
public struct Adam {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public private(set) var step = 0
    var m: ModelWeights
    var v: ModelWeights

    public init(for weights: ModelWeights, learningRate: Float = 1e-3) {
        self.learningRate = learningRate
        m = weights.zeros()
        v = weights.zeros()
    }

    /// Restores a saved state (checkpoints).
    public init(learningRate: Float, step: Int, m: ModelWeights, v: ModelWeights) {
        self.learningRate = learningRate; self.step = step; self.m = m; self.v = v
    }

    public var moments: (m: ModelWeights, v: ModelWeights) { (m, v) }

    /// One step. `rates`, when given, scales the learning rate of each parameter (in
    /// `parameterPaths` order: discriminative learning rates); a parameter at 0 is frozen, its
    /// value and moments untouched (PyTorch's `requires_grad=False`). The bias corrections
    /// follow the optimizer's step count, so a parameter unfrozen late starts with
    /// under-corrected moments, a short warm-up (PyTorch counts steps per parameter).
    public mutating func update(_ weights: inout ModelWeights, grads: ModelWeights, rates: [Float]? = nil) {
        step += 1
        let bc1 = 1 - pow(Double(beta1), Double(step))
        let bc2 = 1 - pow(Double(beta2), Double(step))
        let bc2Sqrt = Float(bc2.squareRoot())
        for (k, (_, path)) in weights.parameterPaths.enumerated() {
            let rate = rates?[k] ?? 1
            guard rate > 0 else { continue }
            let stepSize = Float(Double(learningRate) * Double(rate) / bc1)
            Kernels.adamStep(weights[keyPath: path].mutableSpan(), m[keyPath: path].mutableSpan(),
                             v[keyPath: path].mutableSpan(), grads[keyPath: path].span(),
                             beta1: beta1, beta2: beta2, epsilon: epsilon, stepSize: stepSize, bc2Sqrt: bc2Sqrt)
        }
    }
}

public enum GradientClipping {
    /// `torch.nn.utils.clip_grad_norm_`: scales every gradient by `maxNorm / (norm + 1e-6)` when
    /// the global L2 norm exceeds `maxNorm`. Returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ grads: inout ModelWeights, maxNorm: Float) -> Float {
        var sq = 0.0
        for (_, p) in grads.parameterPaths { sq += Kernels.sumOfSquares(grads[keyPath: p].span()) }
        let norm = Float(sq.squareRoot())
        let coef = maxNorm / (norm + 1e-6)
        if coef < 1 {
            for (_, p) in grads.parameterPaths { Kernels.scale(grads[keyPath: p].mutableSpan(), by: coef) }
        }
        return norm
    }
}

extension ModelWeights {
    /// `self += other`, parameter by parameter (reducing per-thread gradients).
    public mutating func add(_ other: ModelWeights) {
        for (_, p) in parameterPaths { Kernels.add(other[keyPath: p].span(), into: self[keyPath: p].mutableSpan()) }
    }

    public mutating func setZero() {
        for (_, p) in parameterPaths { self[keyPath: p].setZero() }
    }
}
