import CKernels
/// The weights of one direction of one layer, as in a state_dict (`rnn.weight_ih_l0` ...).
public struct RecurrentWeights: Sendable {
    public var wIH: FloatBuffer  // [G*H, input]
    public var wHH: FloatBuffer  // [G*H, H]
    public var bIH: FloatBuffer  // [G*H]
    public var bHH: FloatBuffer  // [G*H]
    /// LSTM with `proj_size` P > 0 only: `weight_hr` `[P, H]`; then `wHH` is `[G*H, P]` and the
    /// state is `h = W_hr (o * tanh(c))` (inference only).
    public var wHR: FloatBuffer? = nil
    /// Jordan cells only: `bias_hy` `[O]`, added to the projection (`y = W_hy h + b_hy`; then
    /// `wHR` is `weight_hy` `[O, H]`, `wHH`/`bHH` are `weight_ho` `[H, O]`/`bias_ho`).
    public var bHR: FloatBuffer? = nil

    public init(wIH: FloatBuffer, wHH: FloatBuffer, bIH: FloatBuffer, bHH: FloatBuffer) {
        self.wIH = wIH; self.wHH = wHH; self.bIH = bIH; self.bHH = bHH
    }

    public init(wIH: [Float], wHH: [Float], bIH: [Float], bHH: [Float]) {
        self.init(wIH: FloatBuffer(wIH), wHH: FloatBuffer(wHH), bIH: FloatBuffer(bIH), bHH: FloatBuffer(bHH))
    }
}

/// A stack of recurrent layers with `torch.nn.LSTM`/`GRU`/`RNN` semantics: any number of
/// layers, optionally bidirectional, variable-length batches with packed-sequence semantics
/// (padding never influences anything; `h_n` is each sequence's state at its true length; the
/// reverse direction starts at each sequence's last real step).
///
/// Per direction the input projection of all time steps is one GEMM; the recurrence is one GEMM
/// per step over the sequences still running; the time loop allocates nothing.
public struct Recurrent: Sendable {
    public let cell: CellKind
    public let inputSize: Int
    public let hiddenSize: Int
    public let numLayers: Int
    public let bidirectional: Bool
    /// `weights[layer * directions + direction]`.
    public var weights: [RecurrentWeights]
    /// `nn.LSTM(proj_size=P)`: the state `h` has P values, projected from the cell's output by
    /// each direction's `wHR` (0: no projection). Inference only: training refuses it.
    /// A Jordan cell's `output_size` (its state `y = W_hy h + b_hy`, `wHR` and `bHR`), which
    /// trains (`backward` has its own walk for it).
    public var projSize = 0

    public var directions: Int { bidirectional ? 2 : 1 }
    public var gateWidth: Int { cell.gates * hiddenSize }
    /// The width of `h`: `projSize` when projecting, else `hiddenSize`.
    public var stateSize: Int { projSize > 0 ? projSize : hiddenSize }
    public func layerInputSize(_ layer: Int) -> Int { layer == 0 ? inputSize : directions * stateSize }

    public init(cell: CellKind, inputSize: Int, hiddenSize: Int, numLayers: Int, bidirectional: Bool,
                weights: [RecurrentWeights]) {
        precondition(weights.count == numLayers * (bidirectional ? 2 : 1))
        self.cell = cell; self.inputSize = inputSize; self.hiddenSize = hiddenSize
        self.numLayers = numLayers; self.bidirectional = bidirectional; self.weights = weights
    }

    /// The state_dict name of a parameter, e.g. `weight_hh_l1_reverse`.
    public static func parameterName(_ base: String, layer: Int, reverse: Bool) -> String {
        "\(base)_l\(layer)" + (reverse ? "_reverse" : "")
    }

    public struct Output {
        /// Packed `[rows, directions * hidden]` output of the last layer.
        public var output: FloatBuffer
        /// `[layers * directions, batch, hidden]` in the caller's batch order.
        public var h: FloatBuffer
        /// LSTM only, like `h`.
        public var c: FloatBuffer?
    }

    /// The first layer's input: packed rows, or token ids (packed in the same row order) whose
    /// embedding rows are looked up a chunk at a time, so a long text never has all its
    /// embeddings in memory at once. A tape (training) keeps the first layer's input rows, so
    /// training passes `.rows`.
    public enum Input {
        case rows(FloatBuffer)
        case embedding(Embedding, ids: [Int32])
    }

    /// Time steps whose input projection is computed at once when no tape is kept: the
    /// working memory of a direction is then `chunkSteps x batch x gates x hidden` floats
    /// whatever the length of the text (a tape needs every step, so training projects all).
    public static let chunkSteps = 256

    public var tapeLayout: TapeLayout { TapeLayout(cell: cell, hidden: hiddenSize) }

    /// `forward(.rows(input), ...)`.
    public func forward(_ input: FloatBuffer, batch: PackedBatch, h0: FloatBuffer? = nil, c0: FloatBuffer? = nil,
                        tape: RecurrentTape? = nil) -> Output {
        forward(.rows(input), batch: batch, h0: h0, c0: c0, tape: tape)
    }

    /// Runs the stack over a packed batch: the one forward pass, for inference and training.
    /// `input` is `[batch.rows, inputSize]` packed (or ids to look up); `h0`/`c0` are
    /// `[layers * directions, batch, hidden]` in the caller's order (nil: zeros).
    ///
    /// - `tape`: training passes one to keep what `backward` needs (each layer's input and the
    ///   `TapeLayout` rows of every step).
    /// - `transposed` (inference): the row kernels instead of GEMMs, see `TransposedWeights`.
    /// - `keepOutput: false` skips the last layer's per-step output (a classifier needs only
    ///   `h`); `Output.output` is then empty.
    /// - `monitor`: polled before each chunk of steps; once it says stop, the remaining chunks
    ///   are skipped and the output is meaningless (the caller checks `monitor.cancelled`).
    /// - `pool`: receives every step's state of the last layer (concat pooling, `Pooling`).
    ///
    /// Memory: the projections of at most `chunkSteps` steps (without a tape), the state, and
    /// per layer but the last (or with `keepOutput`) its output rows (`rows x directions x hidden`).
    public func forward(_ input: Input, batch: PackedBatch, h0: FloatBuffer? = nil, c0: FloatBuffer? = nil,
                        tape: RecurrentTape? = nil, transposed: TransposedWeights? = nil,
                        keepOutput: Bool = true, monitor: ProgressMonitor? = nil, pool: PoolAccumulator? = nil) -> Output {
        let B = batch.batch, H = hiddenSize, D = directions, S = stateSize
        // The first layer reads `input`; each later one the previous layer's output rows.
        var x = FloatBuffer(count: 0)
        var looksUp = false
        switch input {
        case let .rows(r): x = r
        case .embedding: looksUp = true
        }
        var hOut = FloatBuffer(count: numLayers * D * B * S)
        var cOut: FloatBuffer? = cell == .lstm ? FloatBuffer(count: numLayers * D * B * H) : nil
        let chunkRows = tape != nil ? batch.rows : min(batch.rows, Self.chunkSteps * B)
        var scratch = DirectionScratch(chunkRows: chunkRows, gateWidth: gateWidth,
                                       lookupWidth: looksUp ? inputSize : 0, batch: B, hidden: H,
                                       quantizedWidth: transposed?.hasInt8 == true ? max(inputSize, D * S, S) : 0,
                                       state: S, projects: projSize > 0)
        for layer in 0..<numLayers {
            let writeOutput = keepOutput || tape != nil || layer < numLayers - 1
            var out = FloatBuffer(count: writeOutput ? batch.rows * D * S : 0)
            tape?.layerInputs[layer] = x
            for dir in 0..<D {
                let slot = layer * D + dir
                batch.sortState(h0, slot: slot, width: S, into: scratch.h.mutableSpan())
                // (A Jordan cell has no c: a caller's c0, e.g. carried zeros, is not read.)
                batch.sortState(cell == .jordan ? nil : c0, slot: slot, width: H, into: scratch.c.mutableSpan())
                if let tape, tape.slots[slot].count != batch.rows * tapeLayout.width {
                    tape.slots[slot] = FloatBuffer(count: batch.rows * tapeLayout.width)
                }
                runDirection(weights[slot], inputWidth: layerInputSize(layer), layer == 0 ? input : .rows(x),
                             batch: batch, reverse: dir == 1, scratch: &scratch,
                             out: writeOutput ? out.mutableSpan() : nil, outOffset: dir * S, outStride: D * S,
                             tape: tape?.slots[slot].mutableSpan(), monitor: monitor,
                             transposed: transposed.map { ($0.ih[slot], $0.hh[slot]) },
                             pool: layer == numLayers - 1 ? pool : nil,
                             inputTable: layer == 0 && tape == nil ? transposed?.inputTable(dir) : nil)
                batch.unsortState(scratch.h.span(), slot: slot, width: S, into: hOut.mutableSpan())
                if cOut != nil { batch.unsortState(scratch.c.span(), slot: slot, width: H, into: cOut!.mutableSpan()) }
            }
            x = out
        }
        return Output(output: x, h: hOut, c: cOut)
    }

    /// The scratch a direction reuses: the projections of one chunk of steps (all of them with
    /// a tape), the embedding rows of one chunk, the state-side gates and the state.
    struct DirectionScratch {
        var proj, lookup, hh, h, c: FloatBuffer
        /// The cell's output before the projection (`proj_size` only; else empty).
        var raw: FloatBuffer
        /// Input rows quantized for int8 weights.
        let quantized: QuantizedRows

        init(chunkRows: Int, gateWidth G: Int, lookupWidth: Int, batch B: Int, hidden H: Int, quantizedWidth: Int,
             state S: Int? = nil, projects: Bool = false) {
            quantized = QuantizedRows(rows: quantizedWidth > 0 ? Swift.max(chunkRows, B) : 0, width: quantizedWidth)
            proj = FloatBuffer(count: chunkRows * G)
            lookup = FloatBuffer(count: chunkRows * lookupWidth)
            hh = FloatBuffer(count: B * G)
            h = FloatBuffer(count: B * (S ?? H))
            c = FloatBuffer(count: B * H)
            raw = FloatBuffer(count: (S ?? H) != H || projects ? B * H : 0)
        }
    }

    /// One direction of one layer over the whole packed batch, in chunks of time steps whose
    /// input projections fit `scratch.proj` (a tape needs them all: it then holds every row).
    func runDirection(_ w: RecurrentWeights, inputWidth: Int, _ input: Input, batch: PackedBatch, reverse: Bool,
                      scratch: inout DirectionScratch, out: MutableFloatSpan?, outOffset: Int, outStride: Int,
                      tape: MutableFloatSpan?, monitor: ProgressMonitor?,
                      transposed wt: (ih: WeightMatrix, hh: WeightMatrix)?, pool: PoolAccumulator? = nil,
                      inputTable: FloatBuffer? = nil) {
        let H = hiddenSize, G = gateWidth, tw = tapeLayout.width, S = stateSize
        let P = scratch.proj.mutableSpan(), lookup = scratch.lookup.mutableSpan(), HH = scratch.hh.mutableSpan()
        let hs = scratch.h.mutableSpan(), cs = scratch.c.mutableSpan()
        // proj_size: the cell writes `raw`, and `h = W_hr raw` row by row (the same bits whatever
        // the batch); without it the cell writes `h` itself, as it always did.
        let wHR = projSize > 0 ? w.wHR : nil
        let raw = scratch.raw.mutableSpan()
        for chunk in chunks(batch, rows: P.count / max(1, G), reverse: reverse) {
            if let monitor, monitor.poll() { break }
            // The input rows of the chunk: the layer's input, or embedding rows looked up now.
            let m = chunk.rows.count, first = chunk.rows.lowerBound
            let pc = P.slice(0, m * G)
            if let table = inputTable, case let .embedding(_, ids) = input {
                // The tabulated projections of the chunk's tokens (`TransposedWeights.inputTables`).
                let ts = table.span()
                for j in 0..<m { pc.slice(j * G, G).copy(from: ts.slice(Int(ids[first + j]) * G, G)) }
            } else {
                projectInputs(w, inputWidth: inputWidth, input, first: first, m: m, lookup: lookup, into: pc, transposed: wt,
                              scratch: scratch.quantized)
            }
            for s in 0..<chunk.steps.count {
                let t = reverse ? chunk.steps.upperBound - 1 - s : chunk.steps.lowerBound + s
                let n = batch.batchSizes[t], r0 = batch.offsets[t]
                let hh = HH.slice(0, n * G)
                if let wt {
                    Self.rowKernels(wt.hh, bias: w.bHH.span(), rows: G, cols: S, hs.readOnly, ldx: S, hh, ldy: G, count: n,
                                    scratch.quantized)
                } else {
                    Kernels.broadcastRows(w.bHH.span(), into: hh, m: n, ldc: G)
                    Kernels.rowsTimesTransposed(m: n, n: G, k: S, hs.readOnly, lda: S, w.wHH.span(), hh, ldc: G)
                }
                CellMath.steps(cell, H: H, gateStride: H, rows: n, gx: P.readOnly.slice((r0 - first) * G, n * G), gxStride: G,
                               gh: hh.readOnly, ghStride: G, h: wHR != nil ? raw : hs, c: cs,
                               tape: tape?.slice(r0 * tw, n * tw), tapeStride: tw)
                if let wHR {
                    for j in 0..<n {
                        let hj = hs.slice(j * S, S)
                        if let b = w.bHR { hj.copy(from: b.span()) } else { hj.fill(0) }
                        Kernels.rowsTimesTransposed(m: 1, n: S, k: H, raw.readOnly.slice(j * H, H), lda: H, wHR.span(), hj, ldc: S)
                    }
                }
                if let out {
                    for j in 0..<n { out.slice((r0 + j) * outStride + outOffset, S).copy(from: hs.readOnly.slice(j * S, S)) }
                }
                pool?.add(hs.readOnly, rows: n, firstRow: r0, direction: reverse ? 1 : 0)
            }
        }
    }

    /// The input projection of `m` rows from packed row `first`: `b_ih + W_ih x` for every
    /// step of a chunk at once (row kernels when `wt`, else one GEMM).
    private func projectInputs(_ w: RecurrentWeights, inputWidth: Int, _ input: Input, first: Int, m: Int,
                               lookup: MutableFloatSpan, into pc: MutableFloatSpan,
                               transposed wt: (ih: WeightMatrix, hh: WeightMatrix)?, scratch: QuantizedRows) {
        let G = gateWidth
        let xc: FloatSpan
        switch input {
        case let .rows(r):
            xc = r.span(first * inputWidth, m * inputWidth)
        case let .embedding(table, ids):
            table.lookup(ids, first..<(first + m), into: lookup)
            xc = lookup.readOnly.slice(0, m * inputWidth)
        }
        if let wt {
            Self.rowKernels(wt.ih, bias: w.bIH.span(), rows: G, cols: inputWidth, xc, ldx: inputWidth, pc, ldy: G, count: m, scratch)
        } else {
            Kernels.broadcastRows(w.bIH.span(), into: pc, m: m, ldc: G)
            Kernels.gemmNT(m: m, n: G, k: inputWidth, xc, lda: inputWidth, w.wIH.span(), pc, ldc: G, beta: 1)
        }
    }

    /// `y_j = b + W x_j` for `m` rows with the inference weights: the row kernels of a
    /// transposed float or half matrix (four rows per weight load, after copying `b` into each
    /// row), or of an interleaved int8 matrix (each input row quantized, `b` added by the kernel:
    /// the same bits, one pass over `y` less); the same bits for a row whatever the batch.
    static func rowKernels(_ w: WeightMatrix, bias: FloatSpan, rows: Int, cols: Int, _ x: FloatSpan, ldx: Int,
                           _ y: MutableFloatSpan, ldy: Int, count m: Int, _ q: QuantizedRows) {
        guard case let .int8(w8) = w else {
            Kernels.broadcastRows(bias, into: y, m: m, ldc: ldy)
            return Kernels.matvecTransposedRows(w.span(), rows: rows, cols: cols, x, ldx: ldx, y, ldy: ldy, count: m)
        }
        Kernels.matvecRows(w8, x, ldx: ldx, y, ldy: ldy, count: m, bias: bias, scratch: q)
    }

    /// Chunks of whole time steps of at most `rows` rows (at least one step each), in the order
    /// the direction runs them (rows of a step are contiguous, steps in order: a chunk is one
    /// row range).
    private func chunks(_ batch: PackedBatch, rows chunkRows: Int, reverse: Bool) -> [(steps: Range<Int>, rows: Range<Int>)] {
        var chunks: [(steps: Range<Int>, rows: Range<Int>)] = []
        var t0 = 0
        while t0 < batch.steps {
            var t1 = t0
            while t1 < batch.steps,
                  batch.offsets[t1] + batch.batchSizes[t1] - batch.offsets[t0] <= max(chunkRows, batch.batchSizes[t0]) {
                t1 += 1
            }
            t1 = max(t1, t0 + 1)
            chunks.append((t0..<t1, batch.offsets[t0]..<(batch.offsets[t1 - 1] + batch.batchSizes[t1 - 1])))
            t0 = t1
        }
        return reverse ? chunks.reversed() : chunks
    }

    /// The input side of one direction's gradients, every step at once (one GEMM each, with
    /// k = rows): `dW_ih += dG^T x`, `db_ih += sum dG`, and the gradient to the layer's input
    /// `dX += dG W_ih`, from the pre-activation gradients `dG` (`[rows, width]`).
    private static func inputSide(_ dG: FloatSpan, width G: Int, rows: Int, x: FloatBuffer, inputWidth inW: Int,
                                  _ wIH: FloatBuffer, grads: inout RecurrentWeights, dX: inout FloatBuffer) {
        Kernels.gemm(transA: true, transB: false, m: G, n: inW, k: rows, dG, lda: G,
                     x.span(), ldb: inW, beta: 1, grads.wIH.mutableSpan(), ldc: inW)
        Kernels.addRows(dG, rows: rows, width: G, into: grads.bIH.mutableSpan())
        Kernels.gemm(transA: false, transB: false, m: rows, n: inW, k: G, dG, lda: G,
                     wIH.span(), ldb: inW, beta: 1, dX.mutableSpan(), ldc: inW)
    }

    /// Backpropagation through time over what `forward` kept in `tape`.
    ///
    /// For each layer, top to bottom, and each direction, the steps are walked in the reverse
    /// of the order the forward pass took them. The state gradient of a sequence starts from the
    /// gradient of its final state (`dhN`) and is untouched until the backward walk reaches the
    /// sequence's last real step: that is the packed-sequence rule run backwards. Per step, one
    /// GEMM gives the state gradient; `dW_hh` and the input-side gradients of all steps
    /// (`dW_ih`, `db_ih`, and the gradient to the layer below) are each one GEMM after the loop.
    ///
    /// - Parameters:
    ///   - output: the last layer's packed output from the forward pass.
    ///   - dOutput: gradient of the loss w.r.t. `output` (`[rows, D*H]`), nil for none.
    ///   - dhN: gradient w.r.t. the final `h` (`[L*D, B, H]`, caller order), nil for none.
    ///   - h0, c0: the initial state the forward pass used (nil: zeros).
    ///   - grads: accumulates (`+=`) into these, one per layer and direction.
    /// - Returns: the gradient w.r.t. the packed input (`[rows, inputSize]`).
    public func backward(batch: PackedBatch, tape: RecurrentTape, output: FloatBuffer, dOutput: FloatBuffer?,
                         dhN: FloatBuffer?, h0: FloatBuffer? = nil, c0: FloatBuffer? = nil,
                         grads: inout [RecurrentWeights]) -> FloatBuffer {
        if cell == .jordan {
            return jordanBackward(batch: batch, tape: tape, output: output, dOutput: dOutput, dyN: dhN, y0: h0, grads: &grads)
        }
        let B = batch.batch, H = hiddenSize, D = directions, G = gateWidth, rows = batch.rows
        let layout = tapeLayout, tw = layout.width
        var dOut = dOutput ?? FloatBuffer(count: rows * D * H)
        var bufs = (dGx: FloatBuffer(count: rows * G), dh: FloatBuffer(count: B * H), dc: FloatBuffer(count: B * H),
                    direct: FloatBuffer(count: B * H), dGh: FloatBuffer(count: rows * G), hPrev: FloatBuffer(count: rows * H))
        defer { withExtendedLifetime(bufs) {} }
        let dGx = bufs.dGx.mutableSpan(), dh = bufs.dh.mutableSpan(), dc = bufs.dc.mutableSpan()
        let direct = bufs.direct.mutableSpan(), dGh = bufs.dGh.mutableSpan(), hPrev = bufs.hPrev.mutableSpan()
        for layer in stride(from: numLayers - 1, through: 0, by: -1) {
            let x = tape.layerInputs[layer]
            let inW = layerInputSize(layer)
            let out = layer == numLayers - 1 ? output : tape.layerInputs[layer + 1]
            var dX = FloatBuffer(count: rows * inW)
            let dO = dOut.span()
            for dir in 0..<D {
                let slot = layer * D + dir
                let w = weights[slot], tp = tape.slots[slot].span()
                batch.sortState(dhN, slot: slot, width: H, into: dh)
                dc.fill(0)
                let reverse = dir == 1
                for s in 0..<batch.steps {
                    // Backward order: the forward direction ran t = 0..<T, so go T-1 down to 0.
                    let t = reverse ? s : batch.steps - 1 - s
                    let n = batch.batchSizes[t], r0 = batch.offsets[t]
                    let prevT = reverse ? t + 1 : t - 1
                    for j in 0..<n {
                        let row = r0 + j
                        let hasPrev = prevT >= 0 && prevT < batch.steps && j < batch.batchSizes[prevT]
                        let prevRow = hasPrev ? batch.offsets[prevT] + j : -1
                        let hj = hPrev.slice(row * H, H), dhj = dh.slice(j * H, H)
                        let init0 = (slot * B + batch.order[j]) * H
                        if hasPrev {
                            hj.copy(from: out.span(prevRow * D * H + dir * H, H))
                        } else if let h0 {
                            hj.copy(from: h0.span(init0, H))
                        } else {
                            hj.fill(0)
                        }
                        Kernels.add(dO.slice(row * D * H + dir * H, H), into: dhj)
                        var cPrev: FloatSpan? = nil
                        if cell == .lstm {
                            if hasPrev { cPrev = tp.slice(prevRow * tw + layout.cellState, H) }
                            else if let c0 { cPrev = c0.span(init0, H) }
                        }
                        Kernels.cellBackward(layout, tape: tp.slice(row * tw, tw), hPrev: hj.readOnly, cPrev: cPrev,
                                             dh: dhj.readOnly, dc: dc.slice(j * H, H), dGx: dGx.slice(row * G, G),
                                             dGh: dGh.slice(row * G, G), direct: direct.slice(j * H, H))
                    }
                    // dh = dGh W_hh + direct; dW_hh waits for the end of the loop.
                    Kernels.gemm(transA: false, transB: false, m: n, n: H, k: G, dGh.readOnly.slice(r0 * G, n * G), lda: G,
                                 w.wHH.span(), ldb: H, beta: 0, dh.slice(0, n * H), ldc: H)
                    Kernels.add(direct.readOnly.slice(0, n * H), into: dh.slice(0, n * H))
                }
                // dW_hh += dGh^T hPrev and db_hh += sum dGh over all steps: one GEMM with
                // k = rows instead of one per step (each of which re-read all of dW_hh).
                Kernels.gemm(transA: true, transB: false, m: G, n: H, k: rows, dGh.readOnly, lda: G,
                             hPrev.readOnly, ldb: H, beta: 1, grads[slot].wHH.mutableSpan(), ldc: H)
                Kernels.addRows(dGh.readOnly, rows: rows, width: G, into: grads[slot].bHH.mutableSpan())
                Self.inputSide(dGx.readOnly, width: G, rows: rows, x: x, inputWidth: inW, w.wIH, grads: &grads[slot], dX: &dX)
            }
            dOut = dX
        }
        return dOut
    }
}

/// Every direction's `W_ih` and `W_hh` transposed (`[in, G*H]`, `[H, G*H]`), for inference
/// with `Kernels.matvecTransposedRows`: vectorised along the gate outputs (no horizontal sums,
/// which dominate row dot products at small hidden sizes), four sequences per weight load, and
/// each row computed by the same instructions whatever the batch. That last property is what
/// lets `SentimentModel.scoreBatch` batch reviews and still give each one the bits it gets
/// alone. Costs one extra copy of the recurrent weights; with `half`, that copy is kept in the
/// model file's half precision (the same bits, half the bytes).
public struct TransposedWeights: Sendable {
    public let ih: [WeightMatrix]
    public let hh: [WeightMatrix]

    /// Matrices of at least this many weights are kept half when the model is: below it they
    /// sit in L1/L2 whatever their width, and widening costs more than the bytes it saves
    /// (measured: the shipped sentiment model, 288 x 96 and 288 x 64 per direction, scored
    /// 0.85x as fast with half row kernels as with float ones).
    public static let halfFromWeights = 256 * 1024

    public init(_ rnn: Recurrent, half: HalfKind? = nil, int8Scales: [String: FloatBuffer] = [:]) {
        let D = rnn.directions
        func keep(_ w: FloatBuffer, _ base: String, slot: Int, cols: Int) -> WeightMatrix {
            let name = "rnn." + Recurrent.parameterName(base, layer: slot / D, reverse: slot % D == 1)
            if let s = int8Scales[name], let q = QuantizedMatrix(exactly: w, rows: rnn.gateWidth, cols: cols, scales: s) {
                return .int8(q.interleaved())
            }
            return .transposing(w, rows: rnn.gateWidth, cols: cols, half: w.count >= Self.halfFromWeights ? half : nil)
        }
        ih = rnn.weights.indices.map { k in keep(rnn.weights[k].wIH, "weight_ih", slot: k, cols: rnn.layerInputSize(k / D)) }
        hh = rnn.weights.indices.map { k in keep(rnn.weights[k].wHH, rnn.cell.stateWeightName, slot: k, cols: rnn.stateSize) }
    }

    /// Whether some matrix is int8 (the forward pass then needs a quantization scratch).
    var hasInt8: Bool { (ih + hh).contains { $0.isInt8 } }

    /// The first layer's input projection of every vocabulary entry, per direction:
    /// `b_ih + W_ih e[v]` in row `v` (`[vocabulary, gates * hidden]`), or empty. A word model's
    /// input side is then one row copy per token instead of a product (a third of an LSTM
    /// step at embedding 128, hidden 256). Each row is computed by the kernels the forward
    /// pass would run on that token (row-exact), so it holds the very bits it replaces.
    public private(set) var inputTables: [FloatBuffer] = []

    /// The memory the input tables of a model may take (they are skipped beyond it: a large
    /// vocabulary costs more to tabulate at load than most texts cost to score).
    public static let inputTableBudget = 64 << 20

    func inputTable(_ direction: Int) -> FloatBuffer? {
        inputTables.indices.contains(direction) ? inputTables[direction] : nil
    }

    /// Builds `inputTables` when they fit `inputTableBudget`.
    public mutating func tabulateInputs(_ embedding: Embedding, _ rnn: Recurrent) {
        let V = embedding.count, E = embedding.dimension, G = rnn.gateWidth, D = rnn.directions
        guard V * G * D * MemoryLayout<Float>.size <= Self.inputTableBudget, E == rnn.inputSize else { return }
        let scratch = QuantizedRows(rows: ih[0].isInt8 ? V : 0, width: ih[0].isInt8 ? E : 0)
        inputTables = (0..<D).map { d in
            var t = FloatBuffer(count: V * G)
            let ts = t.mutableSpan()
            Recurrent.rowKernels(ih[d], bias: rnn.weights[d].bIH.span(), rows: G, cols: E, embedding.weight.span(), ldx: E,
                                 ts, ldy: G, count: V, scratch)
            return t
        }
    }
}

/// What a training forward pass keeps for the backward pass: each layer's input and, per
/// layer and direction, one `TapeLayout` row per packed row.
public final class RecurrentTape {
    public var layerInputs: [FloatBuffer]
    public var slots: [FloatBuffer]

    public init(layers: Int, directions: Int) {
        layerInputs = Array(repeating: FloatBuffer(count: 0), count: layers)
        slots = Array(repeating: FloatBuffer(count: 0), count: layers * directions)
    }
}

extension Recurrent {
    /// `backward` for Jordan cells, whose state is the output `y` (`stateSize` values) and
    /// whose tape keeps the hidden `h` of every step (`TapeLayout`). Per step, walked in the
    /// reverse of the forward order (the packed-sequence rule as in `backward`):
    ///
    ///     dy_t  = dOutput_t + W_ho^T dpre_{t+1}        (the state gradient, `dy`)
    ///     dpre_t = (W_hy^T dy_t) * (1 - h_t^2)
    ///
    /// then, over all steps at once: `dW_hy += dy^T h`, `db_hy += sum dy`, `dW_ho += dpre^T
    /// y_prev`, `db_ho += sum dpre`, `dW_ih += dpre^T x`, `db_ih += sum dpre`, `dx = dpre W_ih`.
    /// `dyN`/`y0`: the gradient of the final state and the initial state, `[L*D, B, O]`.
    func jordanBackward(batch: PackedBatch, tape: RecurrentTape, output: FloatBuffer, dOutput: FloatBuffer?,
                        dyN: FloatBuffer?, y0: FloatBuffer?, grads: inout [RecurrentWeights]) -> FloatBuffer {
        let B = batch.batch, H = hiddenSize, O = stateSize, D = directions, rows = batch.rows
        let layout = tapeLayout, tw = layout.width
        var dOut = dOutput ?? FloatBuffer(count: rows * D * O)
        var bufs = (dPre: FloatBuffer(count: rows * H), dY: FloatBuffer(count: rows * O), dy: FloatBuffer(count: B * O),
                    yPrev: FloatBuffer(count: rows * O), dh: FloatBuffer(count: H), spare: FloatBuffer(count: H),
                    dGh: FloatBuffer(count: H))
        defer { withExtendedLifetime(bufs) {} }
        let dPre = bufs.dPre.mutableSpan(), dY = bufs.dY.mutableSpan(), dy = bufs.dy.mutableSpan()
        let yPrev = bufs.yPrev.mutableSpan(), dh = bufs.dh.mutableSpan(), spare = bufs.spare.mutableSpan()
        let dGh = bufs.dGh.mutableSpan()  // equal to dpre for a tanh cell: written, unused
        for layer in stride(from: numLayers - 1, through: 0, by: -1) {
            let x = tape.layerInputs[layer]
            let inW = layerInputSize(layer)
            let out = layer == numLayers - 1 ? output : tape.layerInputs[layer + 1]
            var dX = FloatBuffer(count: rows * inW)
            let dO = dOut.span()
            for dir in 0..<D {
                let slot = layer * D + dir
                let w = weights[slot], tp = tape.slots[slot].span()
                guard let wHY = w.wHR else { preconditionFailure("Jordan layer without weight_hy") }
                batch.sortState(dyN, slot: slot, width: O, into: dy)
                let reverse = dir == 1
                for s in 0..<batch.steps {
                    let t = reverse ? s : batch.steps - 1 - s
                    let n = batch.batchSizes[t], r0 = batch.offsets[t]
                    let prevT = reverse ? t + 1 : t - 1
                    for j in 0..<n {
                        let row = r0 + j
                        let hasPrev = prevT >= 0 && prevT < batch.steps && j < batch.batchSizes[prevT]
                        let yj = yPrev.slice(row * O, O)
                        if hasPrev {
                            yj.copy(from: out.span((batch.offsets[prevT] + j) * D * O + dir * O, O))
                        } else if let y0 {
                            yj.copy(from: y0.span((slot * B + batch.order[j]) * O, O))
                        } else {
                            yj.fill(0)
                        }
                        // dy_t: the carried state gradient plus this step's output gradient.
                        let dYj = dY.slice(row * O, O)
                        dYj.copy(from: dy.readOnly.slice(j * O, O))
                        Kernels.add(dO.slice(row * D * O + dir * O, O), into: dYj)
                        // dh = W_hy^T dy_t, then the tanh (the Elman cell's backward).
                        Kernels.gemm(transA: false, transB: false, m: 1, n: H, k: O, dYj.readOnly, lda: O,
                                     wHY.span(), ldb: H, beta: 0, dh, ldc: H)
                        Kernels.cellBackward(layout, tape: tp.slice(row * tw, tw), hPrev: dh.readOnly, cPrev: nil,
                                             dh: dh.readOnly, dc: spare, dGx: dPre.slice(row * H, H),
                                             dGh: dGh, direct: spare)
                    }
                    // The state gradient of the previous step: dpre W_ho.
                    Kernels.gemm(transA: false, transB: false, m: n, n: O, k: H, dPre.readOnly.slice(r0 * H, n * H), lda: H,
                                 w.wHH.span(), ldb: O, beta: 0, dy.slice(0, n * O), ldc: O)
                }
                Kernels.gemm(transA: true, transB: false, m: O, n: H, k: rows, dY.readOnly, lda: O,
                             tp, ldb: H, beta: 1, grads[slot].wHR!.mutableSpan(), ldc: H)
                Kernels.addRows(dY.readOnly, rows: rows, width: O, into: grads[slot].bHR!.mutableSpan())
                Kernels.gemm(transA: true, transB: false, m: H, n: O, k: rows, dPre.readOnly, lda: H,
                             yPrev.readOnly, ldb: O, beta: 1, grads[slot].wHH.mutableSpan(), ldc: O)
                Kernels.addRows(dPre.readOnly, rows: rows, width: H, into: grads[slot].bHH.mutableSpan())
                Self.inputSide(dPre.readOnly, width: H, rows: rows, x: x, inputWidth: inW, w.wIH, grads: &grads[slot], dX: &dX)
            }
            dOut = dX
        }
        return dOut
    }
}
