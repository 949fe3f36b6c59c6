import CKernels
/// The recurrent cell kinds of `torch.nn`, with their gate layout in the fused weights.
public enum CellKind: String, Sendable, CaseIterable {
    /// `torch.nn.LSTM`: gates i, f, g, o (rows of `weight_ih` in that order).
    case lstm
    /// `torch.nn.GRU`: gates r, z, n; `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`.
    case gru
    /// `torch.nn.RNN(nonlinearity="tanh")`.
    case rnnTanh = "rnn_tanh"
    /// `torch.nn.RNN(nonlinearity="relu")`.
    case rnnRelu = "rnn_relu"

    /// Gate blocks of `hidden` rows in `weight_ih`/`weight_hh`.
    public var gates: Int {
        switch self {
        case .lstm: return 4
        case .gru: return 3
        case .rnnTanh, .rnnRelu: return 1
        }
    }
}

/// The weights of one direction of one layer, as in a state_dict (`rnn.weight_ih_l0` ...).
public struct RecurrentWeights: Sendable {
    public var wIH: [Float]  // [G*H, input]
    public var wHH: [Float]  // [G*H, H]
    public var bIH: [Float]  // [G*H]
    public var bHH: [Float]  // [G*H]

    public init(wIH: [Float], wHH: [Float], bIH: [Float], bHH: [Float]) {
        self.wIH = wIH; self.wHH = wHH; self.bIH = bIH; self.bHH = bHH
    }
}

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

    /// Packs a batch-first padded tensor `[B, T, width]`.
    public func pack(_ padded: [Float], steps T: Int, width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * width)
        for (j, b) in order.enumerated() {
            for t in 0..<lengths[b] {
                let src = (b * T + t) * width, dst = (offsets[t] + j) * width
                for k in 0..<width { out[dst + k] = padded[src + k] }
            }
        }
        return out
    }

    /// Unpacks to batch-first `[B, T, width]`, zeros at padding (`pad_packed_sequence`).
    public func unpack(_ packed: [Float], steps T: Int, width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: batch * T * width)
        for (j, b) in order.enumerated() {
            for t in 0..<lengths[b] {
                let dst = (b * T + t) * width, src = (offsets[t] + j) * width
                for k in 0..<width { out[dst + k] = packed[src + k] }
            }
        }
        return out
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

    public var directions: Int { bidirectional ? 2 : 1 }
    public var gateWidth: Int { cell.gates * hiddenSize }
    public func layerInputSize(_ layer: Int) -> Int { layer == 0 ? inputSize : directions * hiddenSize }

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
        public var output: [Float]
        /// `[layers * directions, batch, hidden]` in the caller's batch order.
        public var h: [Float]
        /// LSTM only, like `h`.
        public var c: [Float]?
    }

    /// The first layer's input: packed rows, or token ids (packed in the same row order) whose
    /// embedding rows are looked up a chunk at a time, so a long text never has all its
    /// embeddings in memory at once. A tape (training) keeps the first layer's input rows, so
    /// training passes `.rows`.
    public enum Input {
        case rows([Float])
        case embedding(Embedding, ids: [Int32])
    }

    /// Time steps whose input projection is computed at once when no tape is kept: the
    /// working memory of a direction is then `chunkSteps x batch x gates x hidden` floats
    /// whatever the length of the text (a tape needs every step, so training projects all).
    public static let chunkSteps = 256

    /// Runs the stack over a packed batch. `input` is `[batch.rows, inputSize]` packed;
    /// `h0`/`c0` are `[layers * directions, batch, hidden]` in the caller's order (nil: zeros).
    ///
    /// `transposed` (inference): the row kernels instead of GEMMs, see `TransposedWeights`.
    /// `keepOutput: false` skips the last layer's per-step output (a classifier needs only
    /// `h`); `Output.output` is then empty.
    public func forward(_ input: [Float], batch: PackedBatch, h0: [Float]? = nil, c0: [Float]? = nil,
                        tape: RecurrentTape? = nil, transposed: TransposedWeights? = nil,
                        keepOutput: Bool = true) -> Output {
        forward(.rows(input), batch: batch, h0: h0, c0: c0, tape: tape, transposed: transposed, keepOutput: keepOutput)
    }

    /// As `forward(_:batch:...)`, from either kind of `Input`. Memory: the projections of at most
    /// `chunkSteps` steps (without a tape), the state, and per layer but the last (or with
    /// `keepOutput`) its output rows (`rows x directions x hidden`).
    ///
    /// `monitor`: polled before each chunk of steps; once it says stop, the remaining chunks are
    /// skipped and the output is meaningless (the caller checks `monitor.cancelled`).
    public func forward(_ input: Input, batch: PackedBatch, h0: [Float]? = nil, c0: [Float]? = nil,
                        tape: RecurrentTape? = nil, transposed: TransposedWeights? = nil,
                        keepOutput: Bool = true, monitor: ProgressMonitor? = nil) -> Output {
        let B = batch.batch, H = hiddenSize, D = directions
        // The first layer reads `input`; each later one the previous layer's output rows.
        var x: [Float] = []
        var looksUp = false
        switch input {
        case let .rows(r): x = r
        case .embedding: looksUp = true
        }
        var hOut = [Float](repeating: 0, count: numLayers * D * B * H)
        var cOut: [Float]? = cell == .lstm ? [Float](repeating: 0, count: numLayers * D * B * H) : nil
        // Scratch reused by every layer and direction: the projections of one chunk of steps
        // (all of them with a tape), and the embedding rows of one chunk.
        let chunkRows = tape != nil ? batch.rows : min(batch.rows, Self.chunkSteps * B)
        var proj = [Float](repeating: 0, count: chunkRows * gateWidth)
        var lookup = [Float](repeating: 0, count: looksUp ? chunkRows * inputSize : 0)
        var hh = [Float](repeating: 0, count: B * gateWidth)
        var h = [Float](repeating: 0, count: B * H)
        var c = [Float](repeating: 0, count: B * H)
        for layer in 0..<numLayers {
            let writeOutput = keepOutput || tape != nil || layer < numLayers - 1
            var out = [Float](repeating: 0, count: writeOutput ? batch.rows * D * H : 0)
            for dir in 0..<D {
                let slot = layer * D + dir
                // Initial state in sorted order.
                for (j, b) in batch.order.enumerated() {
                    for k in 0..<H {
                        h[j * H + k] = h0?[(slot * B + b) * H + k] ?? 0
                        c[j * H + k] = c0?[(slot * B + b) * H + k] ?? 0
                    }
                }
                tape?.layerInputs[layer] = x
                runDirection(weights[slot], inputWidth: layerInputSize(layer), layer == 0 ? input : .rows(x), batch: batch,
                             reverse: dir == 1, proj: &proj, lookup: &lookup, hh: &hh, h: &h, c: &c,
                             out: &out, outOffset: dir * H, outStride: D * H, tape: tape, slot: slot, monitor: monitor,
                             wIHT: transposed?.ih[slot], wHHT: transposed?.hh[slot])
                for (j, b) in batch.order.enumerated() {
                    for k in 0..<H {
                        hOut[(slot * B + b) * H + k] = h[j * H + k]
                        cOut?[(slot * B + b) * H + k] = c[j * H + k]
                    }
                }
            }
            x = out
        }
        return Output(output: x, h: hOut, c: cOut)
    }

    /// Width of one row of a training tape for this cell: the post-activation gates, then
    /// (LSTM) the new cell state or (GRU) `W_hn h + b_hn`.
    public var tapeWidth: Int { cell == .lstm || cell == .gru ? gateWidth + hiddenSize : hiddenSize }

    /// One direction of one layer over the whole packed batch, in chunks of time steps whose
    /// input projections fit `proj` (a tape needs them all: `proj` then holds every row).
    func runDirection(_ w: RecurrentWeights, inputWidth: Int, _ input: Input, batch: PackedBatch,
                      reverse: Bool, proj: inout [Float], lookup: inout [Float], hh: inout [Float], h: inout [Float],
                      c: inout [Float], out: inout [Float], outOffset: Int, outStride: Int,
                      tape: RecurrentTape?, slot: Int, monitor: ProgressMonitor? = nil,
                      wIHT: [Float]? = nil, wHHT: [Float]? = nil) {
        let H = hiddenSize, G = gateWidth, rows = batch.rows
        let chunkRows = proj.count / max(1, G)
        // Chunks of whole time steps, in the order the direction runs them (rows of a step are
        // contiguous, steps in order: a chunk is one row range).
        var chunks: [(steps: Range<Int>, rows: Range<Int>)] = []
        var t0 = 0
        while t0 < batch.steps {
            var t1 = t0
            while t1 < batch.steps, batch.offsets[t1] + batch.batchSizes[t1] - batch.offsets[t0] <= max(chunkRows, batch.batchSizes[t0]) {
                t1 += 1
            }
            t1 = max(t1, t0 + 1)
            chunks.append((t0..<t1, batch.offsets[t0]..<(batch.offsets[t1 - 1] + batch.batchSizes[t1 - 1])))
            t0 = t1
        }
        if reverse { chunks.reverse() }
        var xRows: [Float] = []
        var ids: [Int32] = []
        var table: Embedding? = nil
        switch input {
        case let .rows(r): xRows = r
        case let .embedding(e, i): (table, ids) = (e, i)
        }
        if let tape, tape.slots[slot].count != rows * tapeWidth {
            tape.slots[slot] = [Float](repeating: 0, count: rows * tapeWidth)
        }
        func withTape(_ body: (UnsafeMutablePointer<Float>?) -> Void) {
            if let tape {
                tape.slots[slot].withUnsafeMutableBufferPointer { body($0.baseAddress) }
            } else {
                body(nil)
            }
        }
        withTape { tapePtr in
        out.withUnsafeMutableBufferPointer { op in
        xRows.withUnsafeBufferPointer { xrp in
        lookup.withUnsafeMutableBufferPointer { lp in
        ids.withUnsafeBufferPointer { idp in
        proj.withUnsafeMutableBufferPointer { pp in
        hh.withUnsafeMutableBufferPointer { hhp in
        h.withUnsafeMutableBufferPointer { hp in
        c.withUnsafeMutableBufferPointer { cp in
        w.wIH.withUnsafeBufferPointer { wih in
        w.wHH.withUnsafeBufferPointer { whh in
        w.bIH.withUnsafeBufferPointer { bih in
        w.bHH.withUnsafeBufferPointer { bhh in
            let P = pp.baseAddress!, HH = hhp.baseAddress!, Hs = hp.baseAddress!, Cs = cp.baseAddress!
            let outPtr = op.isEmpty ? nil : op.baseAddress  // empty: the caller wants no output
            for chunk in chunks {
            if let monitor, monitor.poll() { break }
            // The input rows of the chunk: the layer's input, or embedding rows looked up now.
            let m = chunk.rows.count, first = chunk.rows.lowerBound
            let xc: UnsafePointer<Float>
            if idp.isEmpty {
                xc = xrp.baseAddress! + first * inputWidth
            } else {
                table!.lookup(UnsafeBufferPointer(rebasing: idp[first..<(first + m)]), into: lp.baseAddress!)
                xc = UnsafePointer(lp.baseAddress!)
            }
            // Input projection of every step of the chunk at once.
            Kernels.broadcastRows(bih.baseAddress!, n: G, into: P, m: m, ldc: G)
            if let wIHT {
                wIHT.withUnsafeBufferPointer { wt in
                    Kernels.matvecTransposedRows(wt.baseAddress!, rows: G, cols: inputWidth, xc, ldx: inputWidth,
                                                 P, ldy: G, count: m)
                }
            } else {
                Kernels.gemmNT(m: m, n: G, k: inputWidth, xc, lda: inputWidth,
                               wih.baseAddress!, P, ldc: G, beta: 1)
            }
            for s in 0..<chunk.steps.count {
                let t = reverse ? chunk.steps.upperBound - 1 - s : chunk.steps.lowerBound + s
                let n = batch.batchSizes[t], r0 = batch.offsets[t]
                Kernels.broadcastRows(bhh.baseAddress!, n: G, into: HH, m: n, ldc: G)
                if let wHHT {
                    wHHT.withUnsafeBufferPointer { wt in
                        Kernels.matvecTransposedRows(wt.baseAddress!, rows: G, cols: H, Hs, ldx: H, HH, ldy: G, count: n)
                    }
                } else {
                    Kernels.rowsTimesTransposed(m: n, n: G, k: H, Hs, lda: H, whh.baseAddress!, HH, ldc: G)
                }
                CellMath.steps(cell, H: H, gateStride: H, rows: n, gx: P + (r0 - first) * G, gxStride: G, gh: HH, ghStride: G, h: Hs, c: Cs,
                               tape: tapePtr.map { $0 + r0 * tapeWidth }, tapeStride: tapeWidth)
                if let outPtr {
                    for j in 0..<n { (outPtr + (r0 + j) * outStride + outOffset).update(from: Hs + j * H, count: H) }
                }
            }
            }
        }}}}}}}}}}}}}
    }
}

/// Every direction's `W_ih` and `W_hh` transposed (`[in, G*H]`, `[H, G*H]`), for inference
/// with `Kernels.matvecTransposedRows`: vectorised along the gate outputs (no horizontal sums,
/// which dominate row dot products at small hidden sizes), four sequences per weight load, and
/// each row computed by the same instructions whatever the batch. That last property is what
/// lets `SentimentModel.scoreBatch` batch reviews and still give each one the bits it gets
/// alone. Costs one extra copy of the recurrent weights.
public struct TransposedWeights: Sendable {
    public let ih: [[Float]]
    public let hh: [[Float]]

    public init(_ rnn: Recurrent) {
        ih = rnn.weights.indices.map { k in
            Kernels.transpose(rnn.weights[k].wIH, rows: rnn.gateWidth, cols: rnn.layerInputSize(k / rnn.directions))
        }
        hh = rnn.weights.map { Kernels.transpose($0.wHH, rows: rnn.gateWidth, cols: rnn.hiddenSize) }
    }
}

/// What a training forward pass keeps for the backward pass: each layer's input and, per
/// layer and direction, one row of `tapeWidth` values per packed row.
public final class RecurrentTape {
    public var layerInputs: [[Float]]
    public var slots: [[Float]]

    public init(layers: Int, directions: Int) {
        layerInputs = Array(repeating: [], count: layers)
        slots = Array(repeating: [], count: layers * directions)
    }
}

/// The elementwise part of one step of each cell: the gate pre-activations from the input
/// (`gx`, biases included) and from the state (`gh`, biases included) -> the new `h` (and
/// `c`), in place. The work is CKernels' `cell_steps` (16 units at a time with vector
/// activations); every unit goes through the same operations whatever `H` or its position, so
/// a sequence gives the same bits alone or in a batch, and a generation split over two threads
/// the same bits as on one.
///
/// Tape layout (what `SwiftRNNTraining`'s backward reads), `tapeWidth` floats per packed row:
/// LSTM i, f, g, o, c' (H each); GRU r, z, n, `W_hn h + b_hn`; Elman the new h.
enum CellMath {
    /// One sequence. `units` hidden units starting at `gx`, `gh`, `h`, `c`, whose gate blocks
    /// lie `gateStride` floats apart (the full hidden size; a generation split over two threads
    /// gives each a slice of the units).
    @inline(__always)
    static func step(_ cell: CellKind, H: Int, gateStride: Int? = nil, gx: UnsafePointer<Float>, gh: UnsafePointer<Float>,
                     h: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>,
                     tape: UnsafeMutablePointer<Float>?) {
        steps(cell, H: H, gateStride: gateStride ?? H, rows: 1, gx: gx, gxStride: 0, gh: gh, ghStride: 0, h: h, c: c,
              tape: tape, tapeStride: 0)
    }

    /// `rows` sequences of one time step: row `j` reads `gx + j * gxStride` and
    /// `gh + j * ghStride`, updates `h + j * H` (and `c + j * H`), writes `tape + j * tapeStride`.
    /// One call per step rather than per sequence.
    @inline(__always)
    static func steps(_ cell: CellKind, H: Int, gateStride S: Int, rows: Int, gx: UnsafePointer<Float>, gxStride: Int,
                      gh: UnsafePointer<Float>, ghStride: Int, h: UnsafeMutablePointer<Float>,
                      c: UnsafeMutablePointer<Float>, tape: UnsafeMutablePointer<Float>?, tapeStride: Int) {
        Kernels.simd.cell_steps(cell.kernelCode, H, S, rows, gx, gxStride, gh, ghStride, h, c, tape, tapeStride)
    }
}

extension CellKind {
    /// The cell's number in CKernels (`SRK_LSTM` ...).
    var kernelCode: Int32 {
        switch self {
        case .lstm: Int32(SRK_LSTM)
        case .gru: Int32(SRK_GRU)
        case .rnnTanh: Int32(SRK_RNN_TANH)
        case .rnnRelu: Int32(SRK_RNN_RELU)
        }
    }
}
