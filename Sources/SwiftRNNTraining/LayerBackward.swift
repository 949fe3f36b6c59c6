import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

extension Linear {
    /// Backward of `y = x W^T + b` over `rows` inputs: accumulates `dW += dy^T x`,
    /// `db += sum(dy)`, and returns `dx = dy W`.
    /// `grad` holds this layer's gradients in a Linear of the same shape.
    public func backward(x: [Float], dy: [Float], rows: Int, grad: inout Linear) -> [Float] {
        var dx = [Float](repeating: 0, count: rows * inFeatures)
        dy.withUnsafeBufferPointer { g in
            x.withUnsafeBufferPointer { xp in
                grad.weight.withUnsafeMutableBufferPointer { dw in
                    Kernels.gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows,
                                 g.baseAddress!, lda: outFeatures, xp.baseAddress!, ldb: inFeatures,
                                 beta: 1, dw.baseAddress!, ldc: inFeatures)
                }
            }
            weight.withUnsafeBufferPointer { wp in
                dx.withUnsafeMutableBufferPointer { dxp in
                    Kernels.gemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures,
                                 g.baseAddress!, lda: outFeatures, wp.baseAddress!, ldb: inFeatures,
                                 beta: 0, dxp.baseAddress!, ldc: inFeatures)
                }
            }
        }
        dy.withUnsafeBufferPointer { g in
            grad.bias.withUnsafeMutableBufferPointer { db in
                addRows(g.baseAddress!, rows: rows, width: outFeatures, into: db.baseAddress!)
            }
        }
        return dx
    }
}

/// `into[k] += sum over r of a[r * width + k]`, rows in order (bias gradients). Pointer loops
/// the vectoriser handles; the sum order is the same as the obvious double loop.
func addRows(_ a: UnsafePointer<Float>, rows: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = a + r * width
        for k in 0..<width { out[k] += row[k] }
    }
}

extension Embedding {
    /// Adds each row of `dOut` to the gradient row of its id; the padding row gets none (as
    /// `padding_idx` in PyTorch), and rows no id used stay untouched.
    public func backward(ids: [Int32], dOut: [Float], dWeight: inout [Float]) {
        let E = dimension
        for (r, id) in ids.enumerated() where Int(id) != paddingIndex {
            let base = Int(id) * E
            for k in 0..<E { dWeight[base + k] += dOut[r * E + k] }
        }
    }
}

public enum Losses {
    /// Mean binary cross-entropy of `sigmoid(logits)` against `targets`, computed from the
    /// logits (`max(z,0) - z*y + log1p(exp(-|z|))`, stable for any z), and its gradient.
    /// `normalizer` (default: the count) divides the summed loss, so shards of a batch can each
    /// pass the whole batch's size and add up to its mean.
    public static func binaryCrossEntropyWithLogits(_ z: [Float], _ y: [Float], normalizer: Int? = nil) -> (loss: Double, grad: [Float]) {
        let n = Float(normalizer ?? z.count)
        var loss = 0.0
        var grad = [Float](repeating: 0, count: z.count)
        for k in z.indices {
            let v = Double(z[k]), t = Double(y[k])
            loss += max(v, 0) - v * t + log1p(exp(-abs(v)))
            grad[k] = (Kernels.sigmoid(z[k]) - y[k]) / n
        }
        return (loss / Double(n), grad)
    }

    /// Mean cross-entropy of `logits` (`[rows, classes]`) against class `targets`, and its
    /// gradient (`softmax - onehot`, over rows).
    public static func crossEntropy(_ logits: [Float], classes: Int, _ targets: [Int32], normalizer: Int? = nil) -> (loss: Double, grad: [Float]) {
        let rows = targets.count, norm = normalizer ?? rows
        var loss = 0.0
        var grad = [Float](repeating: 0, count: logits.count)
        let scale = 1 / Float(norm)
        logits.withUnsafeBufferPointer { lp in
            for r in 0..<rows {
                let row = UnsafeBufferPointer(rebasing: lp[(r * classes)..<((r + 1) * classes)])
                let lse = Kernels.logSumExp(row)
                loss += lse - Double(row[Int(targets[r])])
                for c in 0..<classes {
                    grad[r * classes + c] = Float(exp(Double(row[c]) - lse)) * scale
                }
                grad[r * classes + Int(targets[r])] -= scale
            }
        }
        return (loss / Double(norm), grad)
    }
}

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

    public mutating func update(_ weights: inout ModelWeights, grads: ModelWeights) {
        step += 1
        let bc1 = 1 - pow(Double(beta1), Double(step))
        let bc2 = 1 - pow(Double(beta2), Double(step))
        let stepSize = Float(Double(learningRate) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        for (_, path) in weights.parameterPaths {
            grads[keyPath: path].withUnsafeBufferPointer { g in
            m[keyPath: path].withUnsafeMutableBufferPointer { mp in
            v[keyPath: path].withUnsafeMutableBufferPointer { vp in
            weights[keyPath: path].withUnsafeMutableBufferPointer { p in
                for k in 0..<p.count {
                    let gk = g[k]
                    mp[k] = b1 * mp[k] + (1 - b1) * gk
                    vp[k] = b2 * vp[k] + (1 - b2) * gk * gk
                    let denom = vp[k].squareRoot() / bc2Sqrt + eps
                    p[k] -= stepSize * mp[k] / denom
                }
            }}}}
        }
    }
}

public enum GradientClipping {
    /// `torch.nn.utils.clip_grad_norm_`: scales every gradient by `maxNorm / (norm + 1e-6)` when
    /// the global L2 norm exceeds `maxNorm`. Returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ grads: inout ModelWeights, maxNorm: Float) -> Float {
        var sq = 0.0
        for (_, p) in grads.parameterPaths {
            for g in grads[keyPath: p] { sq += Double(g) * Double(g) }
        }
        let norm = Float(sq.squareRoot())
        let coef = maxNorm / (norm + 1e-6)
        if coef < 1 {
            for (_, p) in grads.parameterPaths {
                grads[keyPath: p].withUnsafeMutableBufferPointer { b in for k in b.indices { b[k] *= coef } }
            }
        }
        return norm
    }
}

extension ModelWeights {
    /// `self += other`, parameter by parameter (reducing per-thread gradients).
    public mutating func add(_ other: ModelWeights) {
        for (_, p) in parameterPaths {
            other[keyPath: p].withUnsafeBufferPointer { o in
                self[keyPath: p].withUnsafeMutableBufferPointer { s in for k in s.indices { s[k] += o[k] } }
            }
        }
    }

    public mutating func setZero() {
        for (_, p) in parameterPaths {
            self[keyPath: p].withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }
}
