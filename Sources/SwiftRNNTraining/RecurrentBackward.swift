import SwiftRNN

/// Backpropagation through time for `Recurrent` (the forward pass is in the core,
/// `Recurrent.forward(_:batch:h0:c0:tape:)`, which fills the tape this reads).
///
/// For each layer, top to bottom, and each direction, the steps are walked in the reverse of
/// the order the forward pass took them. The state gradient of a sequence starts from the
/// gradient of its final state (`dhN`) and is untouched until the backward walk reaches the
/// sequence's last real step: that is the packed-sequence rule run backwards. Per step, one GEMM
/// gives the state gradient; `dW_hh` and the input-side gradients of all steps (`dW_ih`,
/// `db_ih`, and the gradient to the layer below) are each one GEMM after the loop.
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
        var dh = [Float](repeating: 0, count: B * H)
        var dc = [Float](repeating: 0, count: B * H)
        var direct = [Float](repeating: 0, count: B * H)
        var dGhAll = [Float](repeating: 0, count: rows * G)
        var hPrevAll = [Float](repeating: 0, count: rows * H)
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
                    let hasC0 = c0 != nil, c0a = c0 ?? [], h0a = h0 ?? [], tw = tapeWidth
                    tape.slots[slot].withUnsafeBufferPointer { tp in
                    out.withUnsafeBufferPointer { op in
                    dOut.withUnsafeBufferPointer { dop in
                    c0a.withUnsafeBufferPointer { c0p in
                    h0a.withUnsafeBufferPointer { h0p in
                    hPrevAll.withUnsafeMutableBufferPointer { hpa in
                    dGhAll.withUnsafeMutableBufferPointer { dga in
                    dGx.withUnsafeMutableBufferPointer { dgx in
                    dh.withUnsafeMutableBufferPointer { dhp in
                    dc.withUnsafeMutableBufferPointer { dcp in
                    direct.withUnsafeMutableBufferPointer { dirp in
                        for j in 0..<n {
                            let row = r0 + j
                            let hasPrev = prevT >= 0 && prevT < batch.steps && j < batch.batchSizes[prevT]
                            let prevRow = hasPrev ? batch.offsets[prevT] + j : -1
                            let hj = hpa.baseAddress! + row * H, dhj = dhp.baseAddress! + j * H
                            let init0 = (slot * B + batch.order[j]) * H
                            if hasPrev {
                                hj.update(from: op.baseAddress! + prevRow * D * H + dir * H, count: H)
                            } else if h0 != nil {
                                hj.update(from: h0p.baseAddress! + init0, count: H)
                            } else {
                                hj.update(repeating: 0, count: H)
                            }
                            let dor = dop.baseAddress! + row * D * H + dir * H
                            for k in 0..<H { dhj[k] += dor[k] }
                            var cPrev: UnsafePointer<Float>? = nil
                            if cell == .lstm {
                                if hasPrev { cPrev = tp.baseAddress! + prevRow * tw + 4 * H }
                                else if hasC0 { cPrev = c0p.baseAddress! + init0 }
                            }
                            CellGrad.step(cell, H: H, tape: tp.baseAddress! + row * tw, hPrev: hj, cPrev: cPrev,
                                          dh: dhj, dc: dcp.baseAddress! + j * H, dGx: dgx.baseAddress! + row * G,
                                          dGh: dga.baseAddress! + row * G, direct: dirp.baseAddress! + j * H)
                        }
                        // dh = dGh W_hh (+ direct below); dW_hh waits for the end of the loop.
                        w.wHH.withUnsafeBufferPointer { wp in
                            Kernels.gemm(transA: false, transB: false, m: n, n: H, k: G, dga.baseAddress! + r0 * G, lda: G,
                                         wp.baseAddress!, ldb: H, beta: 0, dhp.baseAddress!, ldc: H)
                        }
                    }}}}}}}}}}}
                    for q in 0..<(n * H) { dh[q] += direct[q] }
                }
                // dW_hh += dGh^T hPrev and db_hh += sum dGh over all steps: one GEMM with
                // k = rows instead of one per step (each of which re-read all of dW_hh).
                dGhAll.withUnsafeBufferPointer { g in
                hPrevAll.withUnsafeBufferPointer { hp in
                grads[slot].wHH.withUnsafeMutableBufferPointer { dw in
                    Kernels.gemm(transA: true, transB: false, m: G, n: H, k: rows, g.baseAddress!, lda: G,
                                 hp.baseAddress!, ldb: H, beta: 1, dw.baseAddress!, ldc: H)
                }}}
                grads[slot].bHH.withUnsafeMutableBufferPointer { db in
                    dGhAll.withUnsafeBufferPointer { addRows($0.baseAddress!, rows: rows, width: G, into: db.baseAddress!) }
                }
                // Input side, all steps at once.
                dGx.withUnsafeBufferPointer { g in
                x.withUnsafeBufferPointer { xp in
                grads[slot].wIH.withUnsafeMutableBufferPointer { dw in
                    Kernels.gemm(transA: true, transB: false, m: G, n: inW, k: rows, g.baseAddress!, lda: G,
                                 xp.baseAddress!, ldb: inW, beta: 1, dw.baseAddress!, ldc: inW)
                }}}
                grads[slot].bIH.withUnsafeMutableBufferPointer { db in
                    dGx.withUnsafeBufferPointer { addRows($0.baseAddress!, rows: rows, width: G, into: db.baseAddress!) }
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

/// The elementwise backward of one step of each cell, for one sequence. Reads the
/// post-activation gates from the tape (`tape`, one packed row) and `dh`; writes the
/// pre-activation gate gradients of the input side (`dGx`) and of the state side (`dGh`; they
/// differ only in GRU's n gate), the part of dh_prev that bypasses W_hh (`direct`, GRU's
/// `z * dh`), and dc_prev in place of `dc`. `cPrev` is the LSTM's previous cell (nil: zeros).
/// Each pointer is that sequence's row; the loops index them by `k` alone so they vectorise.
enum CellGrad {
    static func step(_ cell: CellKind, H: Int, tape: UnsafePointer<Float>, hPrev: UnsafePointer<Float>,
                     cPrev: UnsafePointer<Float>?, dh: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>,
                     dGx: UnsafeMutablePointer<Float>, dGh: UnsafeMutablePointer<Float>,
                     direct: UnsafeMutablePointer<Float>) {
        switch cell {
        case .lstm:
            let ti = tape, tf = tape + H, tg = tape + 2 * H, to = tape + 3 * H, tc = tape + 4 * H
            let xi = dGx, xf = dGx + H, xg = dGx + 2 * H, xo = dGx + 3 * H
            for k in 0..<H {
                let i = ti[k], f = tf[k], g = tg[k], o = to[k]
                let cp = cPrev?[k] ?? 0
                let th = Kernels.tanh(tc[k])
                let dct = dc[k] + dh[k] * o * (1 - th * th)
                xi[k] = dct * g * i * (1 - i)
                xf[k] = dct * cp * f * (1 - f)
                xg[k] = dct * i * (1 - g * g)
                xo[k] = dh[k] * th * o * (1 - o)
                dc[k] = dct * f
            }
            dGh.update(from: dGx, count: 4 * H)
            direct.update(repeating: 0, count: H)
        case .gru:
            let tr = tape, tz = tape + H, tn = tape + 2 * H, thn = tape + 3 * H
            let xr = dGx, xz = dGx + H, xn = dGx + 2 * H, hn = dGh + 2 * H
            for k in 0..<H {
                let r = tr[k], z = tz[k], n = tn[k]
                let dnPre = dh[k] * (1 - z) * (1 - n * n)
                xz[k] = dh[k] * (hPrev[k] - n) * z * (1 - z)
                xr[k] = dnPre * thn[k] * r * (1 - r)
                xn[k] = dnPre
                hn[k] = dnPre * r
                direct[k] = dh[k] * z
            }
            dGh.update(from: dGx, count: 2 * H)
        case .rnnTanh:
            for k in 0..<H { dGx[k] = dh[k] * (1 - tape[k] * tape[k]) }
            dGh.update(from: dGx, count: H)
            direct.update(repeating: 0, count: H)
        case .rnnRelu:
            for k in 0..<H { dGx[k] = tape[k] > 0 ? dh[k] : 0 }
            dGh.update(from: dGx, count: H)
            direct.update(repeating: 0, count: H)
        }
    }
}
