/// `torch.nn.Linear`: `y = x W^T + b`, weight `[out, in]` as in a state_dict. Forward and
/// backward side by side.
public struct Linear: Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    public var weight: FloatBuffer  // [out, in]
    public var bias: FloatBuffer    // [out]

    public init(inFeatures: Int, outFeatures: Int, weight: FloatBuffer, bias: FloatBuffer) {
        precondition(weight.count == inFeatures * outFeatures && bias.count == outFeatures)
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.weight = weight
        self.bias = bias
    }

    public init(inFeatures: Int, outFeatures: Int, weight: [Float], bias: [Float]) {
        self.init(inFeatures: inFeatures, outFeatures: outFeatures, weight: FloatBuffer(weight), bias: FloatBuffer(bias))
    }

    /// `rows` inputs of `inFeatures` -> `rows` outputs of `outFeatures`.
    public func forward(_ x: FloatSpan, rows: Int, into y: MutableFloatSpan) {
        Kernels.broadcastRows(bias.span(), into: y, m: rows, ldc: outFeatures)
        Kernels.rowsTimesTransposed(m: rows, n: outFeatures, k: inFeatures, x, lda: inFeatures, weight.span(),
                                    y, ldc: outFeatures)
    }

    public func forward(_ x: FloatBuffer) -> FloatBuffer {
        let rows = x.count / inFeatures
        var y = FloatBuffer(count: rows * outFeatures)
        forward(x.span(), rows: rows, into: y.mutableSpan())
        return y
    }

    /// Backward of `y = x W^T + b` over `rows` inputs: accumulates `dW += dy^T x`,
    /// `db += sum(dy)` into `grad` (a Linear of the same shape), and returns `dx = dy W`.
    public func backward(x: FloatBuffer, dy: FloatBuffer, rows: Int, grad: inout Linear) -> FloatBuffer {
        var dx = FloatBuffer(count: rows * inFeatures)
        Kernels.gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows, dy.span(), lda: outFeatures,
                     x.span(), ldb: inFeatures, beta: 1, grad.weight.mutableSpan(), ldc: inFeatures)
        Kernels.gemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures, dy.span(), lda: outFeatures,
                     weight.span(), ldb: inFeatures, beta: 0, dx.mutableSpan(), ldc: inFeatures)
        Kernels.addRows(dy.span(), rows: rows, width: outFeatures, into: grad.bias.mutableSpan())
        return dx
    }
}
