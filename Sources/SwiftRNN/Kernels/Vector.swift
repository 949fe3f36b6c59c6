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
    /// by 2^n through the exponent bits). Inputs are clamped to [-87.3, 88.7]; NaN stays NaN.
    ///
    /// Scalar on purpose: the activations run in loops over a hidden vector (`CellMath`), and
    /// LLVM's loop vectoriser turns this branch-free code into full-width SIMD. The same code
    /// written on `SIMD16<Float>` compiled to quarter-width shuffles whenever it was not
    /// inlined. Rounding uses the 1.5 * 2^23 trick, so no float-to-integer conversion.
    @inlinable @inline(__always)
    public static func exp(_ x0: Float) -> Float {
        var x = x0 < -87.33654 ? -87.33654 : x0
        x = x > 88.72283 ? 88.72283 : x
        let magic: Float = 12582912                   // 1.5 * 2^23
        let t = x * 1.44269504088896341 + magic       // round to nearest, in the low mantissa bits
        let n = t - magic
        var r = x - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let ni = Int32(bitPattern: t.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        return p * Float(bitPattern: UInt32(bitPattern: (ni &+ 127) &<< 23))
    }

    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

    /// tanh(x) = 1 - 2 / (exp(2x) + 1); absolute error below 2e-7.
    @inlinable @inline(__always)
    public static func tanh(_ x: Float) -> Float { 1 - 2 / (exp(x + x) + 1) }

    /// `y[:] += x^T Wt` with `Wt` the transpose `[cols, rows]` of a weight: vectorised along the
    /// outputs, so no horizontal sums, which dominate `matvec` when `cols` is small (a hidden
    /// size of 64). Each `y[r]` adds the products in `k` order, whatever the other rows do.
    public static func matvecTransposed(_ wt: UnsafePointer<Float>, rows: Int, cols: Int, _ x: UnsafePointer<Float>,
                                        _ y: UnsafeMutablePointer<Float>, fromOutput start: Int = 0) {
        var c = start
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

    /// `matvecTransposed` for `m` sequences at once: `y_j[:] += x_j^T Wt` with `x_j = x + j * ldx`
    /// and `y_j = y + j * ldy`. Four sequences share each load of the weights (16 accumulators,
    /// 4 weight and 4 broadcast registers: 24 of AVX-512's 32), which turns the latency-bound
    /// one-sequence loop into a throughput-bound one. Every `y_j[r]` still adds its products in
    /// `k` order with the same operations as `matvecTransposed`, so a review scored in a batch
    /// gets the same bits as scored alone.
    public static func matvecTransposedRows(_ wt: UnsafePointer<Float>, rows: Int, cols: Int,
                                            _ x: UnsafePointer<Float>, ldx: Int,
                                            _ y: UnsafeMutablePointer<Float>, ldy: Int, count m: Int) {
        let full = rows / 64 * 64
        var j = 0
        while j + 4 <= m {
            let x0 = x + j * ldx, x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx
            let y0 = y + j * ldy, y1 = y0 + ldy, y2 = y1 + ldy, y3 = y2 + ldy
            var c = 0
            while c < full {
                var a00 = load(y0 + c, 16), a01 = load(y0 + c + 16, 16), a02 = load(y0 + c + 32, 16), a03 = load(y0 + c + 48, 16)
                var a10 = load(y1 + c, 16), a11 = load(y1 + c + 16, 16), a12 = load(y1 + c + 32, 16), a13 = load(y1 + c + 48, 16)
                var a20 = load(y2 + c, 16), a21 = load(y2 + c + 16, 16), a22 = load(y2 + c + 32, 16), a23 = load(y2 + c + 48, 16)
                var a30 = load(y3 + c, 16), a31 = load(y3 + c + 16, 16), a32 = load(y3 + c + 32, 16), a33 = load(y3 + c + 48, 16)
                for k in 0..<cols {
                    let row = wt + k * rows + c
                    let w0 = load(row, 16), w1 = load(row + 16, 16), w2 = load(row + 32, 16), w3 = load(row + 48, 16)
                    let v0 = Vec(repeating: x0[k]), v1 = Vec(repeating: x1[k])
                    let v2 = Vec(repeating: x2[k]), v3 = Vec(repeating: x3[k])
                    a00 = a00 + w0 * v0; a01 = a01 + w1 * v0; a02 = a02 + w2 * v0; a03 = a03 + w3 * v0
                    a10 = a10 + w0 * v1; a11 = a11 + w1 * v1; a12 = a12 + w2 * v1; a13 = a13 + w3 * v1
                    a20 = a20 + w0 * v2; a21 = a21 + w1 * v2; a22 = a22 + w2 * v2; a23 = a23 + w3 * v2
                    a30 = a30 + w0 * v3; a31 = a31 + w1 * v3; a32 = a32 + w2 * v3; a33 = a33 + w3 * v3
                }
                store(a00, y0 + c, 16); store(a01, y0 + c + 16, 16); store(a02, y0 + c + 32, 16); store(a03, y0 + c + 48, 16)
                store(a10, y1 + c, 16); store(a11, y1 + c + 16, 16); store(a12, y1 + c + 32, 16); store(a13, y1 + c + 48, 16)
                store(a20, y2 + c, 16); store(a21, y2 + c + 16, 16); store(a22, y2 + c + 32, 16); store(a23, y2 + c + 48, 16)
                store(a30, y3 + c, 16); store(a31, y3 + c + 16, 16); store(a32, y3 + c + 32, 16); store(a33, y3 + c + 48, 16)
                c += 64
            }
            if full < rows {
                for (xi, yi) in [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] {
                    matvecTransposed(wt, rows: rows, cols: cols, xi, yi, fromOutput: full)
                }
            }
            j += 4
        }
        while j < m {
            matvecTransposed(wt, rows: rows, cols: cols, x + j * ldx, y + j * ldy)
            j += 1
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
