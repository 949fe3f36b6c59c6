import CKernels

/// A weight matrix in int8 (issue 13): each row `r` is `q[r, :] * scale[r]` with `q` in
/// -127...127 (per-row symmetric quantization, as the model file stores it). Rows are padded
/// with zeros to a multiple of 64 bytes, the width of one VNNI product.
///
/// Products with it quantize their input vector to uint8 first (`QuantizedVector`) and sum
/// in int32, exactly: every instruction set gives the same bits. The result differs from the
/// float product by the two roundings (documented tolerances in docs/model-format.md).
public struct QuantizedMatrix: @unchecked Sendable {
    final class Storage: @unchecked Sendable {
        let q: UnsafeMutablePointer<Int8>
        let sums: UnsafeMutablePointer<Int32>
        /// The row kernels' layout (`interleaved`), built on demand.
        var t4: UnsafeMutablePointer<Int8>? = nil
        init(count: Int, rows: Int) {
            q = .allocate(capacity: Swift.max(count, 1))
            q.initialize(repeating: 0, count: count)
            sums = .allocate(capacity: Swift.max(rows, 1))
            sums.initialize(repeating: 0, count: rows)
        }
        deinit { q.deallocate(); sums.deallocate(); t4?.deallocate() }
    }

    public let rows: Int
    public let cols: Int
    /// Bytes per stored row (`cols` rounded up to 64).
    public let stride: Int
    private let storage: Storage
    public let scales: FloatBuffer

    /// Columns a matrix may have: the int32 sums stay exact up to 65,536 x 255 x 127.
    public static let maxColumns = 65_536

    private init(rows: Int, cols: Int, scales: FloatBuffer, fill: (Int, Int) -> Int8) {
        precondition(cols <= Self.maxColumns)
        self.rows = rows; self.cols = cols
        stride = (cols + 63) / 64 * 64
        storage = Storage(count: rows * stride, rows: rows)
        for r in 0..<rows {
            var s: Int32 = 0
            for k in 0..<cols {
                let v = fill(r, k)
                storage.q[r * stride + k] = v
                s += Int32(v)
            }
            storage.sums[r] = s
        }
        self.scales = scales
    }

    /// Quantizes `w` (`[rows, cols]`): `scale[r] = max |w[r, :]| / 127`, `q = round(w / scale)`.
    public init(quantizing w: FloatBuffer, rows: Int, cols: Int) {
        precondition(w.count == rows * cols)
        let v = w.span()
        var scales = FloatBuffer(count: rows)
        for r in 0..<rows {
            var m: Float = 0
            for k in 0..<cols { m = Swift.max(m, abs(v[r * cols + k])) }
            scales[r] = m / 127
        }
        let s = scales
        self.init(rows: rows, cols: cols, scales: s) { r, k in
            s[r] == 0 ? 0 : Int8(Swift.max(-127, Swift.min(127, (v[r * cols + k] / s[r]).rounded(.toNearestOrEven))))
        }
    }

    /// The int8 matrix whose dequantized values are exactly `w` (a model read from an int8
    /// file: `w[r, k] = q * scales[r]`), or nil when `w` is not such a matrix.
    public init?(exactly w: FloatBuffer, rows: Int, cols: Int, scales: FloatBuffer) {
        guard w.count == rows * cols, scales.count == rows, cols <= Self.maxColumns else { return nil }
        let v = w.span()
        self.rows = rows; self.cols = cols
        stride = (cols + 63) / 64 * 64
        storage = Storage(count: rows * stride, rows: rows)
        self.scales = scales
        // One pass at load: w * (1 / s) is within a few ulp of the integer q (|q| <= 128), so it
        // rounds to q; the product check below proves it for every weight.
        for r in 0..<rows {
            let s = scales[r]
            guard s.isFinite, s >= 0 else { return nil }
            let inv: Float = s == 0 ? 0 : 1 / s
            var sum: Int32 = 0
            for k in 0..<cols {
                let x = v[r * cols + k]
                let q = (x * inv).rounded(.toNearestOrEven)
                guard q >= -128, q <= 127, Float(q) * s == x else { return nil }
                storage.q[r * stride + k] = Int8(q)
                sum += Int32(q)
            }
            storage.sums[r] = sum
        }
    }

    /// Outputs and inputs of the interleaved layout, padded to 16 and 4.
    public var paddedRows: Int { (rows + 15) / 16 * 16 }
    public var paddedCols: Int { (cols + 3) / 4 * 4 }

    /// The same matrix with the row kernels' layout built too: four columns of 16 rows side
    /// by side, `[rows/16][cols/4][16][4]`, so one VNNI product serves 16 outputs (no
    /// horizontal sums; `Kernels.matvecRows`), and the products of a block of 16 outputs are
    /// read in one contiguous run. Call once, at model load.
    public func interleaved() -> QuantizedMatrix {
        if storage.t4 == nil {
            let rp = paddedRows, cp = paddedCols, groups = cp / 4
            let t = UnsafeMutablePointer<Int8>.allocate(capacity: rp * cp)
            t.initialize(repeating: 0, count: rp * cp)
            for r in 0..<rows {
                for k in 0..<cols { t[((r / 16 * groups + k / 4) * 16 + r % 16) * 4 + k % 4] = storage.q[r * stride + k] }
            }
            storage.t4 = t
        }
        return self
    }

    var storage4: UnsafePointer<Int8>? { storage.t4.map { UnsafePointer($0) } }

    /// The int8 value of row `r`, column `k`.
    public func q(_ r: Int, _ k: Int) -> Int8 { storage.q[r * stride + k] }

    /// `q * scale`, `[rows, cols]`: the values a model with this matrix computes with.
    public func dequantized() -> FloatBuffer {
        var w = FloatBuffer(count: rows * cols)
        let o = w.mutableSpan()
        for r in 0..<rows { for k in 0..<cols { o[r * cols + k] = Float(storage.q[r * stride + k]) * scales[r] } }
        return w
    }

    /// Rows `r0 ..< r0 + n`.
    public func rows(_ r0: Int, _ n: Int) -> QuantizedSpan {
        precondition(r0 >= 0 && n >= 0 && r0 + n <= rows, "quantized rows out of range")
        return QuantizedSpan(q: UnsafePointer(storage.q + r0 * stride), stride: stride, cols: cols, rows: n,
                             scales: scales.span(r0, n), rowSums: UnsafePointer(storage.sums + r0))
    }
}

/// Input rows quantized for `Kernels.matvecRows` (scratch reused from chunk to chunk).
public final class QuantizedRows: @unchecked Sendable {
    let q: UnsafeMutablePointer<UInt8>
    let xs: UnsafeMutablePointer<Float>
    let zp: UnsafeMutablePointer<Int32>
    let capacity: Int, width: Int

    /// Room for `rows` vectors of up to `width` values.
    public init(rows: Int, width: Int) {
        capacity = Swift.max(rows, 1)
        self.width = (width + 63) / 64 * 64
        q = .allocate(capacity: capacity * self.width)
        q.initialize(repeating: 0, count: capacity * self.width)
        xs = .allocate(capacity: capacity); xs.initialize(repeating: 0, count: capacity)
        zp = .allocate(capacity: capacity); zp.initialize(repeating: 0, count: capacity)
    }

    deinit { q.deallocate(); xs.deallocate(); zp.deallocate() }
}

/// Rows of a `QuantizedMatrix` (valid while the matrix lives).
public struct QuantizedSpan: @unchecked Sendable {
    let q: UnsafePointer<Int8>
    let stride: Int
    let cols: Int
    public let rows: Int
    let scales: FloatSpan
    let rowSums: UnsafePointer<Int32>
}

/// An input vector quantized to uint8 for int8 products: `x ~ (q - zeroPoint) * scale`, with
/// the range of x (and 0) mapped onto 0...255. Reused from step to step (allocates once).
public final class QuantizedVector: @unchecked Sendable {
    let q: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var count = 0
    var scale: Float = 0
    var zeroPoint: Int32 = 0

    /// Room for vectors of up to `length` values.
    public init(length: Int) {
        capacity = (length + 63) / 64 * 64
        q = .allocate(capacity: Swift.max(capacity, 1))
        q.initialize(repeating: 0, count: capacity)
    }

    deinit { q.deallocate() }
}

extension Kernels {
    /// Quantizes `x` into `v` (whose capacity must hold it).
    @inline(__always)
    public static func quantize(_ x: FloatSpan, into v: QuantizedVector) {
        precondition(x.count <= v.capacity, "quantize: vector too long")
        var xs: Float = 0, zp: Int32 = 0
        simd.quantize_u8(x.base, x.count, (x.count + 63) / 64 * 64, v.q, &xs, &zp)
        v.count = x.count; v.scale = xs; v.zeroPoint = zp
    }

    /// `y_j += W x_j` (or `y_j = bias + W x_j`) for `m` input rows `x_j = x[j * ldx ..< j * ldx +
    /// cols]` over an int8 matrix with its interleaved layout: each row quantized, then 16
    /// outputs per product. Each `y_j[r]` gets the bits `matvec` gives it (the same integer
    /// sums), and with a bias the bits of copying the bias into `y_j` first.
    public static func matvecRows(_ w: QuantizedMatrix, _ x: FloatSpan, ldx: Int, _ y: MutableFloatSpan, ldy: Int,
                                  count m: Int, bias: FloatSpan? = nil, scratch: QuantizedRows) {
        guard m > 0 else { return }
        precondition(m <= scratch.capacity && w.cols <= scratch.width, "matvecRows: scratch too small")
        precondition(bias.map { $0.count >= w.rows } ?? true, "matvecRows: bias too short")
        precondition(x.count >= (m - 1) * ldx + w.cols && y.count >= (m - 1) * ldy + w.rows, "matvecRows: spans too small")
        guard let t4 = w.storage4 else { preconditionFailure("matvecRows: call interleaved() at load") }
        for j in 0..<m {
            simd.quantize_u8(x.base + j * ldx, w.cols, w.paddedCols, scratch.q + j * scratch.width,
                             scratch.xs + j, scratch.zp + j)
        }
        let s = w.rows(0, w.rows)
        simd.matvec_t_rows_q8(t4, w.rows, w.paddedRows, w.paddedCols, s.scales.base, s.rowSums, scratch.q, scratch.width,
                              scratch.xs, scratch.zp, bias?.base, y.base, ldy, m)
    }

    /// `y[r] = (accumulate ? y[r] : 0) + dot(w[r, :], x)` with `x` given quantized.
    @inline(__always)
    public static func matvec(_ w: QuantizedSpan, _ x: QuantizedVector, _ y: MutableFloatSpan, accumulate: Bool) {
        precondition(x.count == w.cols && y.count >= w.rows, "matvec (int8): shapes differ")
        simd.matvec_q8(w.q, w.stride, w.scales.base, w.rowSums, w.rows, x.q, x.scale, x.zeroPoint, y.base,
                       accumulate ? 1 : 0)
    }
}
