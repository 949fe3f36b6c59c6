/// A batch of variable-length sequences in PyTorch's packed layout: the rows of time step `t`
/// are `offsets[t] ..< offsets[t] + batchSizes[t]`, one per sequence still running at `t`, the
/// longest sequences first. `order[j]` is the caller's index of the j-th longest sequence
/// (`pack_padded_sequence(enforce_sorted=False)`; ties keep the caller's order).
public struct PackedBatch: Sendable {
    public let lengths: [Int]      // caller's order
    public let order: [Int]        // sorted position -> caller's index
    public let batchSizes: [Int]   // per time step
    public let offsets: [Int]      // first row of each time step
    public var batch: Int { lengths.count }
    public var steps: Int { batchSizes.count }
    public var rows: Int { lengths.reduce(0, +) }

    /// `lengths` must all be >= 1.
    public init(lengths: [Int]) {
        precondition(lengths.allSatisfy { $0 >= 1 }, "sequence lengths must be >= 1")
        self.lengths = lengths
        order = lengths.indices.sorted { lengths[$0] > lengths[$1] || (lengths[$0] == lengths[$1] && $0 < $1) }
        let steps = lengths.max() ?? 0
        var sizes = [Int](repeating: 0, count: steps)
        for l in lengths { for t in 0..<l { sizes[t] += 1 } }
        batchSizes = sizes
        var offs = [Int](repeating: 0, count: steps)
        var acc = 0
        for t in 0..<steps { offs[t] = acc; acc += sizes[t] }
        offsets = offs
    }

    /// The batch of these sequences (each non-empty), and their ids in packed row order.
    public static func of(_ seqs: [[Int32]]) -> (batch: PackedBatch, ids: [Int32]) {
        let packed = PackedBatch(lengths: seqs.map(\.count))
        var ids = [Int32](repeating: 0, count: packed.rows)
        for (j, b) in packed.order.enumerated() {
            for (t, id) in seqs[b].enumerated() { ids[packed.offsets[t] + j] = id }
        }
        return (packed, ids)
    }

    /// Packs a batch-first padded tensor `[B, T, width]`.
    public func pack(_ padded: FloatBuffer, steps T: Int, width: Int) -> FloatBuffer {
        var out = FloatBuffer(count: rows * width)
        let o = out.mutableSpan(), p = padded.span()
        for (j, b) in order.enumerated() {
            for t in 0..<lengths[b] {
                o.slice((offsets[t] + j) * width, width).copy(from: p.slice((b * T + t) * width, width))
            }
        }
        return out
    }

    /// Unpacks to batch-first `[B, T, width]`, zeros at padding (`pad_packed_sequence`).
    public func unpack(_ packed: FloatBuffer, steps T: Int, width: Int) -> FloatBuffer {
        var out = FloatBuffer(count: batch * T * width)
        let o = out.mutableSpan(), p = packed.span()
        for (j, b) in order.enumerated() {
            for t in 0..<lengths[b] {
                o.slice((b * T + t) * width, width).copy(from: p.slice((offsets[t] + j) * width, width))
            }
        }
        return out
    }

    /// Copies `[slots, batch, width]` state in the caller's order into sorted order for `slot`.
    func sortState(_ state: FloatBuffer?, slot: Int, width H: Int, into dst: MutableFloatSpan) {
        guard let state else { dst.slice(0, batch * H).fill(0); return }
        let s = state.span()
        for (j, b) in order.enumerated() { dst.slice(j * H, H).copy(from: s.slice((slot * batch + b) * H, H)) }
    }

    /// The reverse of `sortState`.
    func unsortState(_ src: FloatSpan, slot: Int, width H: Int, into state: MutableFloatSpan) {
        for (j, b) in order.enumerated() { state.slice((slot * batch + b) * H, H).copy(from: src.slice(j * H, H)) }
    }
}
