/// SIMD kernels for the small shapes that dominate inference: one recurrent step of a few
/// sequences, one generation step. OpenBLAS's per-call overhead dwarfs a 256x64 product, and
/// scalar `expf` per gate element costs more than the products themselves.
///
/// Every kernel computes each output element with the same instruction sequence whatever the
/// number of rows or the element's position, so a review scored alone and in a batch gives the
/// same bits.
public typealias Vec = SIMD16<Float>

extension Kernels {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ n: Int) -> Vec {
        if n >= 16 { return UnsafeRawPointer(p).loadUnaligned(as: Vec.self) }
        var v = Vec()
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    @inline(__always)
    static func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n >= 16 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self); return }
        for i in 0..<n { p[i] = v[i] }
    }

    /// exp(x) to about 2 ulp (Cephes' expf: x = n ln2 + r, a degree-6 polynomial in r, scaled
    /// by 2^n through the exponent bits). Inputs are clamped to [-87.3, 88.7].
    @inline(__always)
    public static func exp(_ x0: Vec) -> Vec {
        // Written with only the SIMD operations the compiler vectorises: comparisons and
        // `replacing` for the clamp, and the 1.5 * 2^23 trick for rounding and the float to
        // integer conversion (the generic `rounded` and `SIMD16<Int32>(_:rounding:)` go lane by
        // lane through slow generic code).
        let lo = Vec(repeating: -87.33654), hi = Vec(repeating: 88.72283)
        var x = x0.replacing(with: lo, where: x0 .< lo)
        x = x.replacing(with: hi, where: x .> hi)
        let magic = Vec(repeating: 12582912)          // 1.5 * 2^23
        let t = x * 1.44269504088896341 + magic       // round to nearest, in the low mantissa bits
        let n = t - magic
        var r = x - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p = Vec(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let ni = unsafeBitCast(t, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        return p * unsafeBitCast((ni &+ 127) &<< 23, to: Vec.self)
    }

    @inline(__always)
    public static func sigmoid(_ x: Vec) -> Vec { 1 / (1 + exp(-x)) }

    /// tanh(x) = 1 - 2 / (exp(2x) + 1); absolute error below 2e-7.
    @inline(__always)
    public static func tanh(_ x: Vec) -> Vec { 1 - 2 / (exp(x + x) + 1) }

    /// `y[:] += x^T Wt` with `Wt` the transpose `[cols, rows]` of a weight: vectorised along the
    /// outputs, so no horizontal sums, which dominate `matvec` when `cols` is small (a hidden
    /// size of 64). Each `y[r]` adds the products in `k` order, whatever the other rows do.
    public static func matvecTransposed(_ wt: UnsafePointer<Float>, rows: Int, cols: Int, _ x: UnsafePointer<Float>,
                                        _ y: UnsafeMutablePointer<Float>) {
        var c = 0
        while c < rows {
            let n = min(64, rows - c)
            let n0 = min(16, n), n1 = max(0, min(16, n - 16)), n2 = max(0, min(16, n - 32)), n3 = max(0, min(16, n - 48))
            var a0 = load(y + c, n0), a1 = Vec(), a2 = Vec(), a3 = Vec()
            if n1 > 0 { a1 = load(y + c + 16, n1) }
            if n2 > 0 { a2 = load(y + c + 32, n2) }
            if n3 > 0 { a3 = load(y + c + 48, n3) }
            if n == 64 {
                for k in 0..<cols {
                    let xv = Vec(repeating: x[k]), row = wt + k * rows + c
                    a0 = a0 + load(row, 16) * xv
                    a1 = a1 + load(row + 16, 16) * xv
                    a2 = a2 + load(row + 32, 16) * xv
                    a3 = a3 + load(row + 48, 16) * xv
                }
            } else {
                for k in 0..<cols {
                    let xv = Vec(repeating: x[k]), row = wt + k * rows + c
                    a0 = a0 + load(row, n0) * xv
                    if n1 > 0 { a1 = a1 + load(row + 16, n1) * xv }
                    if n2 > 0 { a2 = a2 + load(row + 32, n2) * xv }
                    if n3 > 0 { a3 = a3 + load(row + 48, n3) * xv }
                }
            }
            store(a0, y + c, n0)
            if n1 > 0 { store(a1, y + c + 16, n1) }
            if n2 > 0 { store(a2, y + c + 32, n2) }
            if n3 > 0 { store(a3, y + c + 48, n3) }
            c += 64
        }
    }

    /// `[rows, cols]` -> `[cols, rows]`.
    public static func transpose(_ w: [Float], rows: Int, cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: w.count)
        for r in 0..<rows { for k in 0..<cols { t[k * rows + r] = w[r * cols + k] } }
        return t
    }

    /// `C[i, :] += A[i, :] W^T` for `m` rows: the SIMD kernel for a few rows (inference, where a
    /// review or a generation is one row), OpenBLAS for many (training batches).
    @inline(__always)
    public static func rowsTimesTransposed(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, lda: Int,
                                           _ w: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m <= 4 {
            for i in 0..<m { matvec(w, rows: n, cols: k, a + i * lda, c + i * ldc, accumulate: true) }
        } else {
            gemmNT(m: m, n: n, k: k, a, lda: lda, w, c, ldc: ldc, beta: 1)
        }
    }

    /// `y[r] = (accumulate ? y[r] : 0) + dot(W[r, :], x)` for `rows` rows of `cols`: four rows
    /// share each load of `x`.
    public static func matvec(_ w: UnsafePointer<Float>, rows: Int, cols: Int, _ x: UnsafePointer<Float>,
                              _ y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let full = cols & ~15, tail = cols - full
        var r = 0
        while r + 4 <= rows {
            let w0 = w + r * cols, w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols
            var a0 = Vec(), a1 = Vec(), a2 = Vec(), a3 = Vec()
            var k = 0
            while k < full {
                let xv = load(x + k, 16)
                a0 = a0 + load(w0 + k, 16) * xv
                a1 = a1 + load(w1 + k, 16) * xv
                a2 = a2 + load(w2 + k, 16) * xv
                a3 = a3 + load(w3 + k, 16) * xv
                k += 16
            }
            if tail > 0 {
                let xv = load(x + full, tail)
                a0 = a0 + load(w0 + full, tail) * xv
                a1 = a1 + load(w1 + full, tail) * xv
                a2 = a2 + load(w2 + full, tail) * xv
                a3 = a3 + load(w3 + full, tail) * xv
            }
            if accumulate {
                y[r] += a0.sum(); y[r + 1] += a1.sum(); y[r + 2] += a2.sum(); y[r + 3] += a3.sum()
            } else {
                y[r] = a0.sum(); y[r + 1] = a1.sum(); y[r + 2] = a2.sum(); y[r + 3] = a3.sum()
            }
            r += 4
        }
        while r < rows {
            let w0 = w + r * cols
            var a0 = Vec()
            var k = 0
            while k < full { a0 = a0 + load(w0 + k, 16) * load(x + k, 16); k += 16 }
            if tail > 0 { a0 = a0 + load(w0 + full, tail) * load(x + full, tail) }
            if accumulate { y[r] += a0.sum() } else { y[r] = a0.sum() }
            r += 1
        }
    }
}
