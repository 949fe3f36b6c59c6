/// The one type that owns float memory in the core: weights, gradients, layer scratch, tapes.
///
/// Why not `[Float]`: an array lends its memory only inside `withUnsafe...` closures, and a
/// recurrent step needs a dozen arrays at once, so every layer grew a pyramid of eleven nested
/// closures (issue 16). A `FloatBuffer` keeps its floats at one 64-byte-aligned address for its
/// whole life, so a layer takes `span`s of it (a base and a count, like Swift's `Span`) and hands
/// them to `Kernels`, the only code that turns a span into a pointer.
///
/// Value semantics as an array: copies share storage until one is written (copy on write), so
/// `ModelWeights` stays a value (gradients are `weights.zeros()`, Adam's moments are copies).
///
/// Lifetime rule: a span is valid while the buffer it came from is alive and not written
/// through another copy. Spans of a model's weights live as long as the model; a function that
/// takes spans of its local buffers keeps them alive with `withExtendedLifetime` (the optimizer
/// may otherwise free a buffer after its last use by name).
public struct FloatBuffer: RandomAccessCollection, MutableCollection, Equatable, ExpressibleByArrayLiteral,
    CustomStringConvertible, @unchecked Sendable
{
    final class Storage: @unchecked Sendable {
        let base: UnsafeMutablePointer<Float>
        let count: Int

        init(count: Int) {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            base = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
            base.initialize(repeating: 0, count: count)
            self.count = count
        }

        deinit { UnsafeMutableRawPointer(base).deallocate() }
    }

    private var storage: Storage

    /// `count` zeros.
    public init(count: Int) { storage = Storage(count: count) }

    public init(repeating value: Float, count: Int) {
        storage = Storage(count: count)
        storage.base.update(repeating: value, count: count)
    }

    public init(_ values: [Float]) {
        storage = Storage(count: values.count)
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { storage.base.update(from: b, count: $0.count) } }
    }

    /// `count` floats written by `initializer` (decoders: the model file's F32/F16/BF16 data).
    public init(unsafeUninitializedCount count: Int, initializingWith initializer: (UnsafeMutableBufferPointer<Float>) -> Void) {
        storage = Storage(count: count)
        initializer(UnsafeMutableBufferPointer(start: storage.base, count: count))
    }

    public init<S: Sequence>(_ values: S) where S.Element == Float { self.init(Array(values)) }

    public init(arrayLiteral elements: Float...) { self.init(elements) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.count }
    @inline(__always) public var count: Int { storage.count }

    public subscript(i: Int) -> Float {
        @inline(__always) get {
            precondition(i >= 0 && i < storage.count, "FloatBuffer index out of range")
            return storage.base[i]
        }
        @inline(__always) set {
            precondition(i >= 0 && i < storage.count, "FloatBuffer index out of range")
            makeUnique()
            storage.base[i] = newValue
        }
    }

    /// The values as an array (tests, the model writer).
    public var array: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: storage.count)) }

    public var description: String { array.description }

    public static func == (a: FloatBuffer, b: FloatBuffer) -> Bool {
        a.count == b.count && (a.storage === b.storage || (0..<a.count).allSatisfy { a.storage.base[$0] == b.storage.base[$0] })
    }

    @inline(__always)
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = Storage(count: storage.count)
            copy.base.update(from: storage.base, count: storage.count)
            storage = copy
        }
    }

    /// Floats `start ..< start + n` (all from `start` when `n` is nil), read-only.
    @inline(__always)
    public func span(_ start: Int = 0, _ n: Int? = nil) -> FloatSpan {
        let n = n ?? storage.count - start
        precondition(start >= 0 && n >= 0 && start + n <= storage.count, "span out of range")
        return FloatSpan(base: storage.base + start, count: n)
    }

    /// Floats `start ..< start + n`, writable (the buffer is made unique first, so no other
    /// copy sees the writes).
    @inline(__always)
    public mutating func mutableSpan(_ start: Int = 0, _ n: Int? = nil) -> MutableFloatSpan {
        makeUnique()
        let n = n ?? storage.count - start
        precondition(start >= 0 && n >= 0 && start + n <= storage.count, "span out of range")
        return MutableFloatSpan(base: storage.base + start, count: n)
    }

    /// Every value set to zero.
    public mutating func setZero() { mutableSpan().fill(0) }
}

/// A read-only run of floats inside a `FloatBuffer` (or, in the C layer, the caller's memory):
/// what layers pass to `Kernels`. Indexing is bounds-checked; only `Kernels` reads `base`.
public struct FloatSpan: @unchecked Sendable {
    @usableFromInline let base: UnsafePointer<Float>
    public let count: Int

    @inlinable init(base: UnsafePointer<Float>, count: Int) { self.base = base; self.count = count }

    /// Wraps memory the caller owns (the C ABI's input arrays). The caller keeps it alive.
    public init(unsafeStart base: UnsafePointer<Float>, count: Int) { self.base = base; self.count = count }

    public subscript(i: Int) -> Float {
        @inline(__always) get {
            precondition(i >= 0 && i < count, "FloatSpan index out of range")
            return base[i]
        }
    }

    /// Floats `start ..< start + n` of this span.
    @inline(__always)
    public func slice(_ start: Int, _ n: Int) -> FloatSpan {
        precondition(start >= 0 && n >= 0 && start + n <= count, "slice out of range")
        return FloatSpan(base: base + start, count: n)
    }
}

/// A writable run of floats inside a `FloatBuffer`; see `FloatSpan`.
public struct MutableFloatSpan: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Float>
    public let count: Int

    @inlinable init(base: UnsafeMutablePointer<Float>, count: Int) { self.base = base; self.count = count }

    /// Wraps memory the caller owns (the C ABI's output arrays). The caller keeps it alive.
    public init(unsafeStart base: UnsafeMutablePointer<Float>, count: Int) { self.base = base; self.count = count }

    public subscript(i: Int) -> Float {
        @inline(__always) get {
            precondition(i >= 0 && i < count, "MutableFloatSpan index out of range")
            return base[i]
        }
        @inline(__always) nonmutating set {
            precondition(i >= 0 && i < count, "MutableFloatSpan index out of range")
            base[i] = newValue
        }
    }

    @inline(__always)
    public func slice(_ start: Int, _ n: Int) -> MutableFloatSpan {
        precondition(start >= 0 && n >= 0 && start + n <= count, "slice out of range")
        return MutableFloatSpan(base: base + start, count: n)
    }

    /// The same floats, read-only.
    @inline(__always) public var readOnly: FloatSpan { FloatSpan(base: base, count: count) }

    /// Copies `source` (of `count` floats) in.
    @inline(__always)
    public func copy(from source: FloatSpan) {
        precondition(source.count == count, "copy between spans of different sizes")
        base.update(from: source.base, count: count)
    }

    @inline(__always) public func fill(_ v: Float) { base.update(repeating: v, count: count) }
}
