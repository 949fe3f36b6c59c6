#if canImport(Glibc)
import Glibc
#endif

/// The numeric kernels: the only place in the core that touches raw float pointers.
///
/// Shapes are row-major. Layers call these with pointers into their own buffers, so the time
/// loop of a recurrent layer allocates nothing.
public enum Kernels {
    /// General `C = alpha * op(A) op(B) + beta * C`, row-major (training's backward passes).
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
                   beta: beta, c, ldc: ldc)
    }

    /// `C[m, n] = beta * C[m, n] + sum_k A[m, k] * W[n, k]`: a batch of rows times the transpose
    /// of a PyTorch weight (`[out, in]`), which is how every Linear and gate projection is laid
    /// out. `A` is `[m, k]` with row stride `lda`, `W` is `[n, k]`, `C` is `[m, n]` with row
    /// stride `ldc`.
    @inline(__always)
    public static func gemmNT(
        m: Int, n: Int, k: Int,
        _ a: UnsafePointer<Float>, lda: Int,
        _ w: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, ldc: Int,
        beta: Float
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        BLAS.sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a, lda: lda, w, ldb: k,
                   beta: beta, c, ldc: ldc)
    }

    /// Writes `bias` into each of `m` rows of `c` (row stride `ldc`), ready for `gemmNT` with
    /// `beta: 1`.
    @inline(__always)
    public static func broadcastRows(
        _ bias: UnsafePointer<Float>, n: Int, into c: UnsafeMutablePointer<Float>, m: Int, ldc: Int
    ) {
        for i in 0..<m { (c + i * ldc).update(from: bias, count: n) }
    }

    /// Numerically stable `log(sum(exp(x)))`.
    public static func logSumExp(_ x: UnsafeBufferPointer<Float>) -> Double {
        var mx = -Float.infinity
        for v in x where v > mx { mx = v }
        if !mx.isFinite { return Double(mx) }
        var s = 0.0
        for v in x { s += Glibc.exp(Double(v - mx)) }
        return Double(mx) + Glibc.log(s)
    }
}
