/// `torch.nn.Embedding`: row lookup. `paddingIndex` only matters for training (its row gets no
/// gradient); at inference the row is read like any other, as PyTorch does.
public struct Embedding: Sendable {
    public let count: Int
    public let dimension: Int
    public var weight: FloatBuffer  // [count, dimension]
    public let paddingIndex: Int?

    public init(count: Int, dimension: Int, weight: FloatBuffer, paddingIndex: Int? = nil) {
        precondition(weight.count == count * dimension)
        self.count = count
        self.dimension = dimension
        self.weight = weight
        self.paddingIndex = paddingIndex
    }

    public init(count: Int, dimension: Int, weight: [Float], paddingIndex: Int? = nil) {
        self.init(count: count, dimension: dimension, weight: FloatBuffer(weight), paddingIndex: paddingIndex)
    }

    /// Writes the rows of `ids[range]` (each in `0..<count`) one after another into `out`.
    public func lookup(_ ids: [Int32], _ range: Range<Int>, into out: MutableFloatSpan) {
        Kernels.gatherRows(weight.span(), width: dimension, ids: ids, range, into: out)
    }

    /// The rows of `ids`, `[ids.count, dimension]`.
    public func lookup(_ ids: [Int32]) -> FloatBuffer {
        var out = FloatBuffer(count: ids.count * dimension)
        lookup(ids, ids.indices, into: out.mutableSpan())
        return out
    }

    /// Backward: adds each row of `dOut` to the gradient row of its id; the padding row gets
    /// none (as `padding_idx` in PyTorch), and rows no id used stay untouched.
    public func backward(ids: [Int32], dOut: FloatBuffer, dWeight: inout FloatBuffer) {
        Kernels.scatterAddRows(dOut.span(), width: dimension, ids: ids, skip: paddingIndex, into: dWeight.mutableSpan())
    }
}
