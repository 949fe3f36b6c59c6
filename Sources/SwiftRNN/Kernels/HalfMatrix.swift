import CKernels

/// The two half-precision formats a model file may store its weights in.
public enum HalfKind: Int32, Sendable {
    case f16 = 1   // SRK_F16
    case bf16 = 2  // SRK_BF16
}

/// A weight matrix kept in half precision for inference (issue 13): a model read from an F16
/// or BF16 file keeps its recurrent and output weights in the file's 2 bytes per weight, and
/// the kernels widen them as they stream them. Widening is exact, so every result is the bit
/// the float weights give; what changes is the bytes a generation step reads (half).
///
/// Built from the float weights, and only when every value converts back exactly (so never
/// for a model that was trained or converted in float): `init?(exactly:kind:)`.
public struct HalfMatrix: @unchecked Sendable {
    final class Storage: @unchecked Sendable {
        let base: UnsafeMutablePointer<UInt16>
        let count: Int
        init(count: Int) {
            base = .allocate(capacity: Swift.max(count, 1))
            base.initialize(repeating: 0, count: count)
            self.count = count
        }
        deinit { base.deallocate() }
    }

    private let storage: Storage
    public let kind: HalfKind
    public var count: Int { storage.count }

    /// The half bits of `values`, or nil when one of them is not exactly a `kind` value.
    public init?(exactly values: FloatBuffer, kind: HalfKind) {
        let s = Storage(count: values.count), v = values.span()
        for k in 0..<v.count {
            let x = v[k]
            let bits = kind == .f16 ? HalfFloat.f32ToF16(x) : HalfFloat.f32ToBF16(x)
            let back = kind == .f16 ? HalfFloat.f16ToF32(bits) : HalfFloat.bf16ToF32(bits)
            guard back.bitPattern == x.bitPattern else { return nil }
            s.base[k] = bits
        }
        storage = s
        self.kind = kind
    }

    /// The `[rows, cols]` matrix transposed, `[cols, rows]` (the row kernels' layout).
    public func transposed(rows: Int, cols: Int) -> HalfMatrix {
        precondition(rows * cols == count)
        let t = Storage(count: count)
        for r in 0..<rows { for k in 0..<cols { t.base[k * rows + r] = storage.base[r * cols + k] } }
        return HalfMatrix(storage: t, kind: kind)
    }

    private init(storage: Storage, kind: HalfKind) { self.storage = storage; self.kind = kind }

    /// Weights `start ..< start + n`.
    public func span(_ start: Int = 0, _ n: Int? = nil) -> HalfSpan {
        let n = n ?? count - start
        precondition(start >= 0 && n >= 0 && start + n <= count, "half span out of range")
        return HalfSpan(base: storage.base + start, count: n, kind: kind)
    }
}

/// A run of half-precision weights inside a `HalfMatrix`; see `FloatSpan`.
public struct HalfSpan: @unchecked Sendable {
    let base: UnsafePointer<UInt16>
    public let count: Int
    public let kind: HalfKind
}
