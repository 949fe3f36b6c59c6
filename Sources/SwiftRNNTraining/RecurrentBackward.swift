import SwiftRNN

/// Backpropagation through time for `Recurrent` (the forward pass is in the core,
/// `Recurrent.forward(_:batch:h0:c0:tape:)`, which fills the tape this reads).
///
/// For each layer, top to bottom, and each direction, the steps are walked in the reverse of
/// the order the forward pass took them. The state gradient of a sequence starts from the
/// gradient of its final state (`dhN`) and is untouched until the backward walk reaches the
/// sequence's last real step: that is the packed-sequence rule run backwards. Per step, one GEMM
/// gives the state gradient and one accumulates `dW_hh`; the input-side gradients of all steps
/// (`dW_ih`, `db_ih`, and the gradient to the layer below) are each one GEMM after the loop.
extension Recurrent {
    /// - Parameters:
    ///   - output: the last layer's packed output from the forward pass.
    ///   - dOutput: gradient of the loss w.r.t. `output` (`[rows, D*H]`), nil for none.
    ///   - dhN: gradient w.r.t. the final `h` (`[L*D, B, H]`, caller order), nil for none.
    ///   - h0, c0: the initial state the forward pass used (nil: zeros).
    ///   - grads: accumulates (`+=`) into these, one per layer and direction.
    /// - Returns: the gradient w.r.t. the packed input (`[rows, inputSize]`).
    public func backward(batch: PackedBatch, tape: RecurrentTape, output: [Float], dOutput: [Float]?,
                         dhN: [Float]?, h0: [Float]? = nil, c0: [Float]? = nil,
                         grads: inout [RecurrentWeights]) -> [Float] {
        let B = batch.batch, H = hiddenSize, D = directions, G = gateWidth, rows = batch.rows
        var dOut = dOutput ?? [Float](repeating: 0, count: rows * D * H)
        var dGx = [Float](repeating: 0, count: rows * G)
        var dGh = [Float](repeating: 0, count: B * G)
        var dh = [Float](repeating: 0, count: B * H)
        var dc = [Float](repeating: 0, count: B * H)
        var hPrev = [Float](repeating: 0, count: B * H)
        var direct = [Float](repeating: 0, count: B * H)
        for layer in stride(from: numLayers - 1, through: 0, by: -1) {
            let x = tape.layerInputs[layer]
            let inW = layerInputSize(layer)
            let out = layer == numLayers - 1 ? output : tape.layerInputs[layer + 1]
            var dX = [Float](repeating: 0, count: rows * inW)
            for dir in 0..<D {
                let slot = layer * D + dir
                let w = weights[slot]
                for (j, b) in batch.order.enumerated() {
                    for k in 0..<H {
                        dh[j * H + k] = dhN?[(slot * B + b) * H + k] ?? 0
                        dc[j * H + k] = 0
                    }
                }
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
                        for k in 0..<H {
                            hPrev[j * H + k] = hasPrev ? out[prevRow * D * H + dir * H + k]
                                : (h0?[(slot * B + batch.order[j]) * H + k] ?? 0)
                            dh[j * H + k] += dOut[row * D * H + dir * H + k]
                        }
                        let tw = tapeWidth
                        tape.slots[slot].withUnsafeBufferPointer { tp in
                            let cur = tp.baseAddress! + row * tw
                            let prevC: UnsafePointer<Float>? = cell == .lstm && hasPrev ? tp.baseAddress! + prevRow * tw + 4 * H : nil
                            CellGrad.step(cell, H: H, tape: cur, hPrev: &hPrev, j: j, prevC: prevC,
                                          c0: cell == .lstm && !hasPrev ? c0.map { Array($0[((slot * B + batch.order[j]) * H)..<((slot * B + batch.order[j]) * H + H)]) } : nil,
                                          dh: &dh, dc: &dc, dGx: &dGx, row: row, dGh: &dGh, direct: &direct)
                        }
                    }
                    // dW_hh += dGh^T hPrev; db_hh += sum dGh; dh = dGh W_hh + direct.
                    dGh.withUnsafeBufferPointer { g in
                    hPrev.withUnsafeBufferPointer { hp in
                    grads[slot].wHH.withUnsafeMutableBufferPointer { dw in
                        Kernels.gemm(transA: true, transB: false, m: G, n: H, k: n, g.baseAddress!, lda: G,
                                     hp.baseAddress!, ldb: H, beta: 1, dw.baseAddress!, ldc: H)
                    }}}
                    grads[slot].bHH.withUnsafeMutableBufferPointer { db in
                        for j in 0..<n { for q in 0..<G { db[q] += dGh[j * G + q] } }
                    }
                    dGh.withUnsafeBufferPointer { g in
                    w.wHH.withUnsafeBufferPointer { wp in
                    dh.withUnsafeMutableBufferPointer { dhp in
                        Kernels.gemm(transA: false, transB: false, m: n, n: H, k: G, g.baseAddress!, lda: G,
                                     wp.baseAddress!, ldb: H, beta: 0, dhp.baseAddress!, ldc: H)
                    }}}
                    for q in 0..<(n * H) { dh[q] += direct[q] }
                }
                // Input side, all steps at once.
                dGx.withUnsafeBufferPointer { g in
                x.withUnsafeBufferPointer { xp in
                grads[slot].wIH.withUnsafeMutableBufferPointer { dw in
                    Kernels.gemm(transA: true, transB: false, m: G, n: inW, k: rows, g.baseAddress!, lda: G,
                                 xp.baseAddress!, ldb: inW, beta: 1, dw.baseAddress!, ldc: inW)
                }}}
                grads[slot].bIH.withUnsafeMutableBufferPointer { db in
                    for r in 0..<rows { for q in 0..<G { db[q] += dGx[r * G + q] } }
                }
                dGx.withUnsafeBufferPointer { g in
                w.wIH.withUnsafeBufferPointer { wp in
                dX.withUnsafeMutableBufferPointer { dxp in
                    Kernels.gemm(transA: false, transB: false, m: rows, n: inW, k: G, g.baseAddress!, lda: G,
                                 wp.baseAddress!, ldb: inW, beta: 1, dxp.baseAddress!, ldc: inW)
                }}}
            }
            dOut = dX
        }
        return dOut
    }
}

/// The elementwise backward of one step of each cell, for one sequence (`j`, packed `row`).
/// Reads the post-activation gates from the tape; writes the pre-activation gate gradients for
/// the input side (`dGx[row]`) and the state side (`dGh[j]`; they differ only for GRU's n
/// gate), the part of dh_prev that bypasses W_hh (`direct[j]`, GRU's `z * dh`), and dc_prev.
enum CellGrad {
    static func step(_ cell: CellKind, H: Int, tape: UnsafePointer<Float>, hPrev: inout [Float], j: Int,
                     prevC: UnsafePointer<Float>?, c0: [Float]?, dh: inout [Float], dc: inout [Float],
                     dGx: inout [Float], row: Int, dGh: inout [Float], direct: inout [Float]) {
        let G = cell.gates * H
        switch cell {
        case .lstm:
            for k in 0..<H {
                let i = tape[k], f = tape[H + k], g = tape[2 * H + k], o = tape[3 * H + k], c = tape[4 * H + k]
                let cPrev = prevC?[k] ?? c0?[k] ?? 0
                let tc = Kernels.tanh(c)
                let dhk = dh[j * H + k]
                let dct = dc[j * H + k] + dhk * o * (1 - tc * tc)
                let di = dct * g * i * (1 - i)
                let df = dct * cPrev * f * (1 - f)
                let dg = dct * i * (1 - g * g)
                let dO = dhk * tc * o * (1 - o)
                dGx[row * G + k] = di; dGx[row * G + H + k] = df; dGx[row * G + 2 * H + k] = dg; dGx[row * G + 3 * H + k] = dO
                dGh[j * G + k] = di; dGh[j * G + H + k] = df; dGh[j * G + 2 * H + k] = dg; dGh[j * G + 3 * H + k] = dO
                dc[j * H + k] = dct * f
                direct[j * H + k] = 0
            }
        case .gru:
            for k in 0..<H {
                let r = tape[k], z = tape[H + k], n = tape[2 * H + k], hn = tape[3 * H + k]
                let hp = hPrev[j * H + k]
                let dhk = dh[j * H + k]
                let dnPre = dhk * (1 - z) * (1 - n * n)
                let dzPre = dhk * (hp - n) * z * (1 - z)
                let drPre = dnPre * hn * r * (1 - r)
                dGx[row * G + k] = drPre; dGx[row * G + H + k] = dzPre; dGx[row * G + 2 * H + k] = dnPre
                dGh[j * G + k] = drPre; dGh[j * G + H + k] = dzPre; dGh[j * G + 2 * H + k] = dnPre * r
                direct[j * H + k] = dhk * z
            }
        case .rnnTanh:
            for k in 0..<H {
                let h = tape[k]
                let d = dh[j * H + k] * (1 - h * h)
                dGx[row * G + k] = d; dGh[j * G + k] = d; direct[j * H + k] = 0
            }
        case .rnnRelu:
            for k in 0..<H {
                let d = tape[k] > 0 ? dh[j * H + k] : 0
                dGx[row * G + k] = d; dGh[j * G + k] = d; direct[j * H + k] = 0
            }
        }
    }
}
