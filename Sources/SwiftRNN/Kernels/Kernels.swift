#if canImport(Glibc)
import Glibc
#endif

/// The numeric kernels: with `FloatBuffer` and CKernels, the only code that touches raw float
/// pointers. Layers pass `FloatSpan`s of their buffers; each kernel checks the spans cover the
/// shapes it is given (a precondition: a wrong shape is a bug in the library, never an input
/// from a user, which the C layer validates first).
///
/// Shapes are row-major. The time loop of a recurrent layer allocates nothing.
public enum Kernels {
    /// General `C = alpha * op(A) op(B) + beta * C`, row-major (training's backward passes).
    @inline(__always)
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: FloatSpan, lda: Int, _ b: FloatSpan, ldb: Int,
        beta: Float, _ c: MutableFloatSpan, ldc: Int
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        precondition(a.count >= (transA ? (k - 1) * lda + m : (m - 1) * lda + k), "gemm: A too small")
        precondition(b.count >= (transB ? (n - 1) * ldb + k : (k - 1) * ldb + n), "gemm: B too small")
        precondition(c.count >= (m - 1) * ldc + n, "gemm: C too small")
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a.base, lda: lda, b.base, ldb: ldb,
                   beta: beta, c.base, ldc: ldc)
    }

    /// `C[m, n] = beta * C[m, n] + sum_k A[m, k] * W[n, k]`: a batch of rows times the transpose
    /// of a PyTorch weight (`[out, in]`), which is how every Linear and gate projection is laid
    /// out. `A` is `[m, k]` with row stride `lda`, `W` is `[n, k]`, `C` is `[m, n]` with row
    /// stride `ldc`.
    @inline(__always)
    public static func gemmNT(m: Int, n: Int, k: Int, _ a: FloatSpan, lda: Int, _ w: FloatSpan,
                              _ c: MutableFloatSpan, ldc: Int, beta: Float) {
        guard m > 0, n > 0 else { return }
        precondition(c.count >= (m - 1) * ldc + n, "gemmNT: C too small")
        guard k > 0 else {
            if beta == 0 { for i in 0..<m { (c.base + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        precondition(a.count >= (m - 1) * lda + k && w.count >= n * k, "gemmNT: A or W too small")
        BLAS.sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a.base, lda: lda, w.base, ldb: k,
                   beta: beta, c.base, ldc: ldc)
    }

    /// Writes `bias` into each of `m` rows of `c` (row stride `ldc`), ready for `gemmNT` with
    /// `beta: 1`.
    @inline(__always)
    public static func broadcastRows(_ bias: FloatSpan, into c: MutableFloatSpan, m: Int, ldc: Int) {
        guard m > 0 else { return }
        precondition(c.count >= (m - 1) * ldc + bias.count, "broadcastRows: C too small")
        for i in 0..<m { (c.base + i * ldc).update(from: bias.base, count: bias.count) }
    }

    /// `out[k] += sum over r of a[r * width + k]`, rows in order (bias gradients). A pointer
    /// loop the vectoriser handles; the sum order is the obvious double loop's.
    public static func addRows(_ a: FloatSpan, rows: Int, width: Int, into out: MutableFloatSpan) {
        precondition(a.count >= rows * width && out.count >= width, "addRows: spans too small")
        let a = a.base, o = out.base
        for r in 0..<rows {
            let row = a + r * width
            for k in 0..<width { o[k] += row[k] }
        }
    }

    /// `y[k] += x[k]` (gradients of shards summed).
    public static func add(_ x: FloatSpan, into y: MutableFloatSpan) {
        precondition(x.count == y.count, "add: spans of different sizes")
        let xp = x.base, yp = y.base
        for k in 0..<x.count { yp[k] += xp[k] }
    }

    /// `y[k] *= s`.
    public static func scale(_ y: MutableFloatSpan, by s: Float) {
        let yp = y.base
        for k in 0..<y.count { yp[k] *= s }
    }

    /// `y[k] *= m[k]` (dropout masks).
    public static func multiply(_ y: MutableFloatSpan, by m: FloatSpan) {
        precondition(m.count == y.count, "multiply: spans of different sizes")
        let yp = y.base, mp = m.base
        for k in 0..<y.count { yp[k] *= mp[k] }
    }

    /// One skip-gram-with-negative-sampling update (word2vec): for each output row `o` of
    /// `outputs` named by `targets` (the true context word first, label 1, then the negative
    /// samples, label 0), `g = lr * (label - sigmoid(v . o))`, `o += g v`, and `v += sum g o`
    /// (with every `o` as it was before its own update, as word2vec does). Dots on 8 lanes:
    /// a scalar dot of 64 floats is a chain of 64 dependent adds.
    public static func skipGramUpdate(_ v: MutableFloatSpan, outputs: MutableFloatSpan, targets: [Int32], learningRate lr: Float,
                                      scratch: MutableFloatSpan) {
        let d = v.count
        precondition(scratch.count == d, "skipGramUpdate: scratch size")
        let vp = v.base, e = scratch.base
        e.update(repeating: 0, count: d)
        for (j, t) in targets.enumerated() {
            precondition(t >= 0 && (Int(t) + 1) * d <= outputs.count, "skipGramUpdate: target out of range")
            let o = outputs.base + Int(t) * d
            var acc = SIMD8<Float>(repeating: 0)
            var k = 0
            while k + 8 <= d {
                acc += UnsafeRawPointer(vp + k).loadUnaligned(as: SIMD8<Float>.self)
                    * UnsafeRawPointer(o + k).loadUnaligned(as: SIMD8<Float>.self)
                k += 8
            }
            var f = acc.sum()
            while k < d { f += vp[k] * o[k]; k += 1 }
            let label: Float = j == 0 ? 1 : 0
            // word2vec clamps the logit to +-6 (its sigmoid table's range).
            let g = lr * (label - (f > 6 ? 1 : f < -6 ? 0 : 1 / (1 + Kernels.exp(-f))))
            for k in 0..<d { e[k] += g * o[k]; o[k] += g * vp[k] }
        }
        for k in 0..<d { vp[k] += e[k] }
    }

    /// Sum of squares in Double (gradient norms).
    public static func sumOfSquares(_ x: FloatSpan) -> Double {
        var s = 0.0
        for k in 0..<x.count { s += Double(x.base[k]) * Double(x.base[k]) }
        return s
    }

    /// Copies the rows of `table` named by `ids[range]` (each in range; callers check) into
    /// `out`, one after another (embedding lookups).
    public static func gatherRows(_ table: FloatSpan, width: Int, ids: [Int32], _ range: Range<Int>, into out: MutableFloatSpan) {
        precondition(out.count >= range.count * width, "gatherRows: output too small")
        for (r, i) in range.enumerated() {
            let id = Int(ids[i])
            precondition(id >= 0 && (id + 1) * width <= table.count, "gatherRows: id out of range")
            (out.base + r * width).update(from: table.base + id * width, count: width)
        }
    }

    /// `table[ids[r]] += rows[r]` for every r whose id is not `skip` (embedding gradients).
    public static func scatterAddRows(_ rows: FloatSpan, width: Int, ids: [Int32], skip: Int?, into table: MutableFloatSpan) {
        precondition(rows.count >= ids.count * width, "scatterAddRows: rows too small")
        for (r, id) in ids.enumerated() where Int(id) != skip {
            precondition(Int(id) >= 0 && (Int(id) + 1) * width <= table.count, "scatterAddRows: id out of range")
            let dst = table.base + Int(id) * width, src = rows.base + r * width
            for k in 0..<width { dst[k] += src[k] }
        }
    }

    /// `torch.optim.Adam`'s update of one parameter, in place: `m`, `v` moments, `g` gradient.
    public static func adamStep(_ p: MutableFloatSpan, _ m: MutableFloatSpan, _ v: MutableFloatSpan, _ g: FloatSpan,
                                beta1 b1: Float, beta2 b2: Float, epsilon eps: Float, stepSize: Float, bc2Sqrt: Float) {
        precondition(p.count == g.count && m.count == g.count && v.count == g.count, "adamStep: spans differ")
        let pp = p.base, mp = m.base, vp = v.base, gp = g.base
        for k in 0..<p.count {
            let gk = gp[k]
            mp[k] = b1 * mp[k] + (1 - b1) * gk
            vp[k] = b2 * vp[k] + (1 - b2) * gk * gk
            let denom = vp[k].squareRoot() / bc2Sqrt + eps
            pp[k] -= stepSize * mp[k] / denom
        }
    }

    /// Numerically stable `log(sum(exp(x)))`.
    public static func logSumExp(_ x: FloatSpan) -> Double {
        var mx = -Float.infinity
        for k in 0..<x.count where x.base[k] > mx { mx = x.base[k] }
        if !mx.isFinite { return Double(mx) }
        var s = 0.0
        for k in 0..<x.count { s += Glibc.exp(Double(x.base[k] - mx)) }
        return Double(mx) + Glibc.log(s)
    }

    /// Whether every value is finite (CKernels' vector scan; run over every weight at load).
    public static func allFinite(_ x: FloatSpan) -> Bool {
        x.count == 0 || simd.all_finite(x.base, x.count) != 0
    }
}
