/// `torch.nn.Linear`: `y = x W^T + b`, weight `[out, in]` as in a state_dict.
public struct Linear: Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    public var weight: [Float]  // [out, in]
    public var bias: [Float]    // [out]

    public init(inFeatures: Int, outFeatures: Int, weight: [Float], bias: [Float]) {
        precondition(weight.count == inFeatures * outFeatures && bias.count == outFeatures)
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.weight = weight
        self.bias = bias
    }

    /// `rows` inputs of `inFeatures` -> `rows` outputs of `outFeatures`.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        bias.withUnsafeBufferPointer { b in
            Kernels.broadcastRows(b.baseAddress!, n: outFeatures, into: y, m: rows, ldc: outFeatures)
        }
        weight.withUnsafeBufferPointer { w in
            Kernels.rowsTimesTransposed(m: rows, n: outFeatures, k: inFeatures, x, lda: inFeatures, w.baseAddress!,
                                        y, ldc: outFeatures)
        }
    }

    public func forward(_ x: [Float]) -> [Float] {
        let rows = x.count / inFeatures
        var y = [Float](repeating: 0, count: rows * outFeatures)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { forward(xp.baseAddress!, rows: rows, into: $0.baseAddress!) }
        }
        return y
    }
}

/// `torch.nn.Embedding`: row lookup. `paddingIndex` only matters for training (its row gets no
/// gradient); at inference the row is read like any other, as PyTorch does.
public struct Embedding: Sendable {
    public let count: Int
    public let dimension: Int
    public var weight: [Float]  // [count, dimension]
    public let paddingIndex: Int?

    public init(count: Int, dimension: Int, weight: [Float], paddingIndex: Int? = nil) {
        precondition(weight.count == count * dimension)
        self.count = count
        self.dimension = dimension
        self.weight = weight
        self.paddingIndex = paddingIndex
    }

    /// Writes the rows of `ids` (each in `0..<count`) one after another into `out`.
    public func lookup(_ ids: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            for (r, id) in ids.enumerated() {
                (out + r * dimension).update(from: w.baseAddress! + Int(id) * dimension, count: dimension)
            }
        }
    }
}

/// Elementwise activations, in place.
public enum Activation {
    public static func relu(_ x: UnsafeMutableBufferPointer<Float>) {
        for k in x.indices where !(x[k] > 0) { x[k] = x[k].isNaN ? x[k] : 0 }
    }
}
