/// What a many-to-one model's head reads from the last recurrent layer (model metadata
/// `pooling`, docs/model-format.md).
///
/// - `last`: the final hidden state of each direction, `torch.cat((hidden[-2], hidden[-1]), 1)`
///   (the book's model).
/// - `concat`: ULMFiT's concat pooling (Howard & Ruder 2018), the final state beside the max
///   and the mean of the layer's outputs over the sequence's real steps:
///   `torch.cat([last, out.masked_fill(pad, -inf).max(1).values, out.sum(1) / lengths], 1)`
///   with `out` the padded output of `pad_packed_sequence` (`tools/torch_reference.py`).
///   A classifier then sees the whole review, not only what its last state remembers.
public enum Pooling: String, Sendable {
    case last
    case concat

    /// Feature vectors per final-state width (`directions * stateSize`).
    public var multiple: Int { self == .concat ? 3 : 1 }
}

/// The running max (with the row it came from) and sum of the last layer's outputs, per
/// sequence and direction, filled step by step as the recurrent layer runs: concat pooling
/// without keeping a long text's outputs (issue 12's bounded memory). Rows are in the packed
/// batch's sorted order (`PackedBatch.order`).
///
/// Each direction adds its steps in the order it runs them, the same order with or without a
/// tape, so training and scoring pool with the same bits, and a sequence's values do not depend
/// on the batch it runs in.
public final class PoolAccumulator {
    let batch: Int, directions: Int, width: Int
    /// `[batch, directions * width]`, sorted order.
    var maximum: FloatBuffer
    var sum: FloatBuffer
    /// The packed row each maximum came from (-1: none yet), for the backward pass.
    var argmax: [Int32]

    init(batch: Int, directions: Int, width: Int) {
        self.batch = batch; self.directions = directions; self.width = width
        maximum = FloatBuffer(repeating: -.infinity, count: batch * directions * width)
        sum = FloatBuffer(count: batch * directions * width)
        argmax = [Int32](repeating: -1, count: batch * directions * width)
    }

    /// Adds one time step: `h` holds the states of sorted rows `0..<n` (packed rows `r0 + j`).
    func add(_ h: FloatSpan, rows n: Int, firstRow r0: Int, direction d: Int) {
        let D = directions, S = width
        let mx = maximum.mutableSpan(), sm = sum.mutableSpan()
        for j in 0..<n {
            let at = (j * D + d) * S, hj = h.slice(j * S, S)
            Kernels.add(hj, into: sm.slice(at, S))
            for k in 0..<S where hj[k] > mx[at + k] || argmax[at + k] < 0 {
                mx[at + k] = hj[k]
                argmax[at + k] = Int32(r0 + j)
            }
        }
    }

    /// Writes `[max, mean]` of each sequence into its feature row (caller order): row `b`
    /// starts at `b * rowWidth + offset`.
    func write(into f: MutableFloatSpan, batch packed: PackedBatch, rowWidth: Int, offset: Int) {
        let W = directions * width
        let mx = maximum.span(), sm = sum.span()
        for (j, b) in packed.order.enumerated() {
            let row = b * rowWidth + offset, n = Float(packed.lengths[b])
            f.slice(row, W).copy(from: mx.slice(j * W, W))
            for k in 0..<W { f[row + W + k] = sm[j * W + k] / n }
        }
    }

    /// The gradient w.r.t. the packed outputs (`[rows, directions * width]`) of `[max, mean]`
    /// from their gradients in the feature rows (caller order), as `write` laid them out: a
    /// max's gradient goes to the row it came from, a mean's is spread over the sequence's steps.
    func backward(_ g: FloatSpan, batch packed: PackedBatch, rowWidth: Int, offset: Int,
                  into dOut: MutableFloatSpan) {
        let W = directions * width
        for (j, b) in packed.order.enumerated() {
            let row = b * rowWidth + offset, n = Float(packed.lengths[b])
            for k in 0..<W where argmax[j * W + k] >= 0 {
                dOut[Int(argmax[j * W + k]) * W + k] += g[row + k]
            }
            var mean = [Float](repeating: 0, count: W)
            for k in 0..<W { mean[k] = g[row + W + k] / n }
            for t in 0..<packed.lengths[b] {
                let r = packed.offsets[t] + j
                for k in 0..<W { dOut[r * W + k] += mean[k] }
            }
        }
    }
}
