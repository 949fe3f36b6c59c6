/// The batch forward and backward of a language model (character or word): ids -> embedding ->
/// recurrent stack -> `fc` -> logits over the vocabulary, one row per packed input. Training
/// of both kinds runs through these (TBPTT windows); generation runs `CharLanguageModel.step`
/// instead (the embedding folded into the first projection).
public enum LanguageModel {
    /// Logits `[rows, vocab]` and the stack's output; with a `tape`, what `backward` needs.
    public static func forward(_ w: ModelWeights, ids: [Int32], batch: PackedBatch, h0: FloatBuffer?, c0: FloatBuffer?,
                               tape: RecurrentTape?) -> (logits: FloatBuffer, output: Recurrent.Output) {
        let out = w.rnn.forward(tape != nil ? .rows(w.embedding.lookup(ids)) : .embedding(w.embedding, ids: ids),
                                batch: batch, h0: h0, c0: c0, tape: tape)
        return (w.head[0].forward(out.output), out)
    }

    /// Backward of `forward` from the gradient of the loss w.r.t. the logits, into `grads`.
    public static func backward(_ w: ModelWeights, ids: [Int32], batch: PackedBatch, h0: FloatBuffer?, c0: FloatBuffer?,
                                tape: RecurrentTape, output: Recurrent.Output, dLogits: FloatBuffer,
                                grads: inout ModelWeights) {
        let dOut = w.head[0].backward(x: output.output, dy: dLogits, rows: batch.rows, grad: &grads.head[0])
        let dx = w.rnn.backward(batch: batch, tape: tape, output: output.output, dOutput: dOut, dhN: nil, h0: h0, c0: c0,
                                grads: &grads.rnn.weights)
        w.embedding.backward(ids: ids, dOut: dx, dWeight: &grads.embedding.weight)
    }

    /// Negative log-likelihood (nats) of every id after the first given all before it, and how
    /// many ids that is: one sequence from a zero state, scored `chunk` rows of logits at a time
    /// (memory: the stack's output and `chunk x vocab` floats).
    public static func negativeLogLikelihood(_ w: ModelWeights, ids: [Int32], chunk: Int = 256) -> (nats: Double, predicted: Int) {
        guard ids.count >= 2 else { return (0, 0) }
        let input = Array(ids.dropLast())
        let out = w.rnn.forward(.embedding(w.embedding, ids: input), batch: PackedBatch(lengths: [input.count]))
        let fc = w.head[0], H = fc.inFeatures, V = fc.outFeatures
        var logits = FloatBuffer(count: min(chunk, input.count) * V)
        var nats = 0.0
        var r0 = 0
        while r0 < input.count {
            let n = min(chunk, input.count - r0)
            let y = logits.mutableSpan(0, n * V)
            fc.forward(out.output.span(r0 * H, n * H), rows: n, into: y)
            for r in 0..<n {
                let row = y.readOnly.slice(r * V, V)
                nats += Kernels.logSumExp(row) - Double(row[Int(ids[r0 + r + 1])])
            }
            r0 += n
        }
        return (nats, input.count)
    }
}
