/// The weight matrices of inference: the float weights themselves, a half copy
/// (`HalfMatrix`, a model from an F16/BF16 file) or int8 (`QuantizedMatrix`, an I8 file), and
/// the product kernels over any of them. Layers and models hold `WeightMatrix`es and never ask
/// which kind they have, except to quantize an input once for int8 products.

/// A weight matrix as inference keeps it.
public enum WeightMatrix: Sendable {
    case f32(FloatBuffer)
    case half(HalfMatrix)
    /// int8 rows (row-major whatever the use: the int8 product is a row dot product).
    case int8(QuantizedMatrix)

    /// `w` kept in `half` when given and exact, else as is.
    public static func keeping(_ w: FloatBuffer, half: HalfKind?) -> WeightMatrix {
        if let half, let h = HalfMatrix(exactly: w, kind: half) { return .half(h) }
        return .f32(w)
    }

    /// `w` (`[rows, cols]`) transposed, kept as `keeping` would.
    public static func transposing(_ w: FloatBuffer, rows: Int, cols: Int, half: HalfKind?) -> WeightMatrix {
        if let half, let h = HalfMatrix(exactly: w, kind: half) { return .half(h.transposed(rows: rows, cols: cols)) }
        return .f32(Kernels.transpose(w, rows: rows, cols: cols))
    }

    /// Weights `start ..< start + n` (all when `n` is nil); for int8, whole rows.
    public func span(_ start: Int = 0, _ n: Int? = nil) -> WeightSpan {
        switch self {
        case let .f32(b): .f32(b.span(start, n))
        case let .half(h): .half(h.span(start, n))
        case let .int8(m):
            .int8(m.rows(start / m.cols, (n ?? m.rows * m.cols - start) / m.cols))
        }
    }

    public var isHalf: Bool { if case .half = self { true } else { false } }
    public var isInt8: Bool { if case .int8 = self { true } else { false } }
}

/// A weight matrix as the product kernels read it: float or half.
public enum WeightSpan: Sendable {
    case f32(FloatSpan)
    case half(HalfSpan)
    case int8(QuantizedSpan)
}

extension Kernels {
    /// `matvec` over float or half weights (the same bits either way); int8 weights need the
    /// input quantized (`quantized`, made from `x` by `Kernels.quantize`).
    @inline(__always)
    public static func matvec(_ w: WeightSpan, rows: Int, cols: Int, _ x: FloatSpan, quantized: QuantizedVector? = nil,
                              _ y: MutableFloatSpan, accumulate: Bool) {
        switch w {
        case let .int8(q):
            precondition(q.rows == rows && q.cols == cols, "matvec (int8): shape")
            matvec(q, quantized!, y, accumulate: accumulate)
        case let .f32(s): matvec(s, rows: rows, cols: cols, x, y, accumulate: accumulate)
        case let .half(s):
            precondition(s.count >= rows * cols && x.count >= cols && y.count >= rows, "matvec: spans too small")
            simd.matvec_h(s.kind.rawValue, s.base, rows, cols, x.base, y.base, accumulate ? 1 : 0)
        }
    }

    /// `matvecTransposedRows` over float or half weights (the same bits either way).
    @inline(__always)
    public static func matvecTransposedRows(_ wt: WeightSpan, rows: Int, cols: Int, _ x: FloatSpan, ldx: Int,
                                            _ y: MutableFloatSpan, ldy: Int, count m: Int) {
        switch wt {
        case .int8: preconditionFailure("int8 weights are row-major: use matvec per row")
        case let .f32(s): matvecTransposedRows(s, rows: rows, cols: cols, x, ldx: ldx, y, ldy: ldy, count: m)
        case let .half(s):
            guard m > 0 else { return }
            precondition(s.count >= rows * cols && x.count >= (m - 1) * ldx + cols && y.count >= (m - 1) * ldy + rows,
                         "matvecTransposedRows: spans too small")
            simd.matvec_t_rows_h(s.kind.rawValue, s.base, rows, cols, x.base, ldx, y.base, ldy, m)
        }
    }
}
