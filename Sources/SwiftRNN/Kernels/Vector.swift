import CKernels

/// SIMD kernels for the small shapes that dominate inference: one recurrent step of a few
/// sequences, one generation step. OpenBLAS's per-call overhead dwarfs a 256x64 product, and
/// scalar `expf` per gate element costs more than the products themselves.
///
/// Every kernel computes each output element with the same instruction sequence whatever the
/// number of rows or the element's position, so a review scored alone and in a batch gives the
/// same bits.
///
/// The vector kernels themselves are C (Sources/CKernels), one copy per instruction set: this
/// file forwards to the copy the CPU runs. The scalar activations below serve the code that is
/// not a kernel (a review's final sigmoid, training's backward passes) and compute what the
/// kernels compute.
extension Kernels {
    /// exp(x) to about 2 ulp (Cephes' expf: x = n ln2 + r, a degree-6 polynomial in r, scaled
    /// by 2^n through the exponent bits). Inputs are clamped to [-87.3, 88.7]; NaN stays NaN.
    /// The scalar twin of CKernels' vector `exp` (same operations, same bits): DispatchTests
    /// checks the cells against it.
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

    /// The kernel table for this CPU (CKernels: AVX-512, AVX2 or baseline, chosen once from
    /// CPUID; `SWIFTRNN_SIMD=avx2|baseline` lowers it). Every table computes the same bits.
    static let simd: srk_table = srk_active().pointee

    /// The name of the kernel table in use: "avx512", "avx2" or "baseline".
    public static var simdLevel: String { String(cString: simd.name) }

    /// `y[:] += x^T Wt` with `Wt` the transpose `[cols, rows]` of a weight: vectorised along the
    /// outputs, so no horizontal sums, which dominate `matvec` when `cols` is small (a hidden
    /// size of 64). Each `y[r]` adds the products in `k` order, whatever the other rows do.
    @inline(__always)
    public static func matvecTransposed(_ wt: FloatSpan, rows: Int, cols: Int, _ x: FloatSpan,
                                        _ y: MutableFloatSpan, fromOutput start: Int = 0) {
        precondition(wt.count >= rows * cols && x.count >= cols && y.count >= rows, "matvecTransposed: spans too small")
        simd.matvec_t(wt.base, rows, cols, x.base, y.base, start)
    }

    /// `matvecTransposed` for `m` sequences at once: `y_j[:] += x_j^T Wt` with `x_j = x + j * ldx`
    /// and `y_j = y + j * ldy`. Four sequences share each load of the weights, which turns the
    /// latency-bound one-sequence loop into a throughput-bound one. Every `y_j[r]` still adds its
    /// products in `k` order with the same operations as `matvecTransposed`, so a review scored
    /// in a batch gets the same bits as scored alone.
    @inline(__always)
    public static func matvecTransposedRows(_ wt: FloatSpan, rows: Int, cols: Int, _ x: FloatSpan, ldx: Int,
                                            _ y: MutableFloatSpan, ldy: Int, count m: Int) {
        guard m > 0 else { return }
        precondition(wt.count >= rows * cols && x.count >= (m - 1) * ldx + cols && y.count >= (m - 1) * ldy + rows,
                     "matvecTransposedRows: spans too small")
        simd.matvec_t_rows(wt.base, rows, cols, x.base, ldx, y.base, ldy, m)
    }

    /// `[rows, cols]` -> `[cols, rows]`.
    public static func transpose(_ w: FloatBuffer, rows: Int, cols: Int) -> FloatBuffer {
        var t = FloatBuffer(count: w.count)
        let src = w.span(), dst = t.mutableSpan()
        for r in 0..<rows { for k in 0..<cols { dst.base[k * rows + r] = src.base[r * cols + k] } }
        return t
    }

    /// `C[i, :] += A[i, :] W^T` for `m` rows: the SIMD kernel for a few rows (inference, where a
    /// review or a generation is one row), OpenBLAS for many (training batches).
    @inline(__always)
    public static func rowsTimesTransposed(m: Int, n: Int, k: Int, _ a: FloatSpan, lda: Int,
                                           _ w: FloatSpan, _ c: MutableFloatSpan, ldc: Int) {
        if m <= 4 {
            for i in 0..<m { matvec(w, rows: n, cols: k, a.slice(i * lda, k), c.slice(i * ldc, n), accumulate: true) }
        } else {
            gemmNT(m: m, n: n, k: k, a, lda: lda, w, c, ldc: ldc, beta: 1)
        }
    }

    /// `y[r] = (accumulate ? y[r] : 0) + dot(W[r, :], x)` for `rows` rows of `cols`: four rows
    /// share each load of `x`.
    @inline(__always)
    public static func matvec(_ w: FloatSpan, rows: Int, cols: Int, _ x: FloatSpan, _ y: MutableFloatSpan,
                              accumulate: Bool) {
        precondition(w.count >= rows * cols && x.count >= cols && y.count >= rows, "matvec: spans too small")
        simd.matvec(w.base, rows, cols, x.base, y.base, accumulate ? 1 : 0)
    }

    /// One time step of `rows` sequences of a cell: CKernels' `cell_steps` (see `CellMath`).
    /// Row `j` reads `gx[j * gxStride...]`, `gh[j * ghStride...]`, updates `h[j * H...]` and
    /// `c[j * H...]`, writes `tape[j * tapeStride...]`.
    @inline(__always)
    static func cellSteps(_ cell: Int32, H: Int, gateStride: Int, rows: Int, gx: FloatSpan, gxStride: Int,
                          gh: FloatSpan, ghStride: Int, h: MutableFloatSpan, c: MutableFloatSpan,
                          tape: MutableFloatSpan?, tapeStride: Int) {
        guard rows > 0 else { return }
        simd.cell_steps(cell, H, gateStride, rows, gx.base, gxStride, gh.base, ghStride, h.base, c.base,
                        tape?.base, tapeStride)
    }
}

extension Kernels {
    /// Runs `body` with subnormal floats flushed to zero on this thread and the threads it
    /// starts (x86 FTZ + DAZ, AArch64 FZ), then restores the previous mode.
    ///
    /// Why training wants it: a review's gradient enters at its last step (last-state pooling)
    /// and shrinks through hundreds of steps back to the first, into the subnormal range, where
    /// x86 multiplies in microcode at tens of times the cost. A BiGRU 96 on IMDb trained 2-3
    /// times slower for it. Values below 1.2e-38 carry nothing a float32 update can use
    /// (PyTorch offers the same switch: `torch.set_flush_denormal`). Inference never calls
    /// this: it keeps the IEEE semantics that PyTorch parity assumes, and never changes a
    /// host's floating-point mode.
    public static func withSubnormalsFlushed<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let was = srk_flush_subnormals(1)
        defer { _ = srk_flush_subnormals(was) }
        return try body()
    }
}
