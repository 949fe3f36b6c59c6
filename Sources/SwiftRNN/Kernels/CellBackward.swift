extension Kernels {
    /// The elementwise backward of one step of a cell, for one sequence. Reads the
    /// post-activation gates from its tape row (`TapeLayout`) and `dh`; writes the
    /// pre-activation gate gradients of the input side (`dGx`) and of the state side (`dGh`;
    /// they differ only in GRU's n gate), the part of dh_prev that bypasses W_hh (`direct`,
    /// GRU's `z * dh`), and dc_prev in place of `dc`. `cPrev` is the LSTM's previous cell (nil:
    /// zeros). The loops index by `k` alone so they vectorise.
    static func cellBackward(_ layout: TapeLayout, tape: FloatSpan, hPrev: FloatSpan, cPrev: FloatSpan?,
                             dh: FloatSpan, dc: MutableFloatSpan, dGx: MutableFloatSpan, dGh: MutableFloatSpan,
                             direct: MutableFloatSpan) {
        let H = layout.hidden, G = layout.cell.gates * H
        precondition(tape.count >= layout.width && hPrev.count >= H && dh.count >= H && dc.count >= H
                     && dGx.count >= G && dGh.count >= G && direct.count >= H && (cPrev?.count ?? H) >= H,
                     "cellBackward: spans too small")
        let tape = tape.base, hPrev = hPrev.base, dh = dh.base, dc = dc.base
        let dGx = dGx.base, dGh = dGh.base, direct = direct.base
        switch layout.cell {
        case .lstm:
            let cPrev = cPrev?.base
            let ti = tape + layout.gate(0), tf = tape + layout.gate(1), tg = tape + layout.gate(2)
            let to = tape + layout.gate(3), tc = tape + layout.cellState
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
            let tr = tape + layout.gate(0), tz = tape + layout.gate(1), tn = tape + layout.gate(2)
            let thn = tape + layout.hiddenPartOfN
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
        case .rnnTanh, .jordan:
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
