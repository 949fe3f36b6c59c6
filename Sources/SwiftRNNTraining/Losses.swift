import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

public enum Losses {
    /// The binary cross-entropy of `sigmoid(z)` against `y`, from the logit: stable for any z.
    @inline(__always)
    public static func logLoss(logit z: Double, target y: Double) -> Double {
        max(z, 0) - z * y + log1p(exp(-abs(z)))
    }

    /// Mean binary cross-entropy of `sigmoid(logits)` against `targets`, computed from the
    /// logits (`max(z,0) - z*y + log1p(exp(-|z|))`, stable for any z), and its gradient.
    /// `normalizer` (default: the count) divides the summed loss, so shards of a batch can each
    /// pass the whole batch's size and add up to its mean.
    public static func binaryCrossEntropyWithLogits(_ z: FloatBuffer, _ y: [Float], normalizer: Int? = nil) -> (loss: Double, grad: FloatBuffer) {
        let n = Float(normalizer ?? z.count)
        var loss = 0.0
        var grad = FloatBuffer(count: z.count)
        for k in 0..<z.count {
            let v = Double(z[k]), t = Double(y[k])
            loss += logLoss(logit: v, target: t)
            grad[k] = (Kernels.sigmoid(z[k]) - y[k]) / n
        }
        return (loss / Double(n), grad)
    }

    /// Mean cross-entropy of `logits` (`[rows, classes]`) against class `targets`, and its
    /// gradient (`softmax - onehot`, over rows).
    public static func crossEntropy(_ logits: FloatBuffer, classes: Int, _ targets: [Int32], normalizer: Int? = nil) -> (loss: Double, grad: FloatBuffer) {
        let rows = targets.count, norm = normalizer ?? rows
        var loss = 0.0
        var grad = FloatBuffer(count: logits.count)
        let g = grad.mutableSpan(), all = logits.span()
        let scale = 1 / Float(norm)
        for r in 0..<rows {
            let row = all.slice(r * classes, classes)
            let lse = Kernels.logSumExp(row)
            loss += lse - Double(row[Int(targets[r])])
            for c in 0..<classes { g[r * classes + c] = Float(exp(Double(row[c]) - lse)) * scale }
            g[r * classes + Int(targets[r])] -= scale
        }
        return (loss / Double(norm), grad)
    }
}
