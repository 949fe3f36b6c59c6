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
    /// The Jordan network (output recurrence, docs/jordan.md; PyTorch has none: the reference
    /// is `JordanRNN` in tools/torch_reference.py): `h_t = tanh(W_ih x_t + b_ih + W_ho y_{t-1} +
    /// b_ho)`, `y_t = W_hy h_t + b_hy`. The layer's output and its state are `y` (`output_size`
    /// values, zero at the start); `h` is internal. In `RecurrentWeights`, `wHH`/`bHH` hold
    /// `weight_ho`/`bias_ho` and `wHR`/`bHR` hold `weight_hy`/`bias_hy`; the step is the tanh
    /// Elman cell's (`SRK_RNN_TANH`) followed by that projection.
    case jordan

    /// Gate blocks of `hidden` rows in `weight_ih`/`weight_hh`.
    public var gates: Int {
        switch self {
        case .lstm: return 4
        case .gru: return 3
        case .rnnTanh, .rnnRelu, .jordan: return 1
        }
    }

    /// The state_dict base name of the weight the state multiplies (`weight_hh_l0`, or the
    /// Jordan cell's `weight_ho_l0`: it multiplies the previous output).
    public var stateWeightName: String { self == .jordan ? "weight_ho" : "weight_hh" }
    /// The state_dict base name of the state side's bias (`bias_hh`, Jordan `bias_ho`).
    public var stateBiasName: String { self == .jordan ? "bias_ho" : "bias_hh" }

    /// The cell's number in CKernels (`SRK_LSTM` ...).
    var kernelCode: Int32 {
        switch self {
        case .lstm: Int32(SRK_LSTM)
        case .gru: Int32(SRK_GRU)
        case .rnnTanh, .jordan: Int32(SRK_RNN_TANH)
        case .rnnRelu: Int32(SRK_RNN_RELU)
        }
    }
}

/// What a training forward pass keeps of one step of one sequence, for the backward pass: one
/// tape row of `width` floats. Written by CKernels' `cell_steps`, read by
/// `Kernels.cellBackward`; this is the one definition of the layout.
///
/// - LSTM: i, f, g, o after their activations, then the new cell state c' (5H).
/// - GRU: r, z, n after their activations, then `W_hn h + b_hn` (4H).
/// - Elman (tanh, relu): the new h (H).
/// - Jordan: the new hidden h (H), before the output projection (the output `y` is the layer's
///   output, kept as the next layer's input or the stack's output).
public struct TapeLayout: Sendable {
    public let cell: CellKind
    public let hidden: Int

    public var width: Int { cell == .lstm || cell == .gru ? (cell.gates + 1) * hidden : hidden }
    /// Gate `g` (0-based, in the order above).
    public func gate(_ g: Int) -> Int { g * hidden }
    /// LSTM: the new cell state.
    public var cellState: Int { 4 * hidden }
    /// GRU: `W_hn h + b_hn`.
    public var hiddenPartOfN: Int { 3 * hidden }
}

/// The elementwise part of one step of each cell: the gate pre-activations from the input
/// (`gx`, biases included) and from the state (`gh`, biases included) -> the new `h` (and
/// `c`), in place. The work is CKernels' `cell_steps` (16 units at a time with vector
/// activations); every unit goes through the same operations whatever `H` or its position, so
/// a sequence gives the same bits alone or in a batch, and a generation split over two threads
/// the same bits as on one.
enum CellMath {
    /// `rows` sequences of one time step: row `j` reads `gx[j * gxStride...]` and
    /// `gh[j * ghStride...]`, updates `h[j * H...]` (and `c`), writes `tape[j * tapeStride...]`.
    /// `H` units per row whose gate blocks lie `gateStride` floats apart (the full hidden size;
    /// a generation split over two threads gives each a slice of the units).
    @inline(__always)
    static func steps(_ cell: CellKind, H: Int, gateStride: Int, rows: Int, gx: FloatSpan, gxStride: Int,
                      gh: FloatSpan, ghStride: Int, h: MutableFloatSpan, c: MutableFloatSpan,
                      tape: MutableFloatSpan? = nil, tapeStride: Int = 0) {
        Kernels.cellSteps(cell.kernelCode, H: H, gateStride: gateStride, rows: rows, gx: gx, gxStride: gxStride,
                          gh: gh, ghStride: ghStride, h: h, c: c, tape: tape, tapeStride: tapeStride)
    }
}
