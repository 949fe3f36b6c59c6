import XCTest
import CKernels
@testable import SwiftRNN

/// The kernel tables of every instruction set this CPU runs (CKernels: AVX-512, AVX2, baseline)
/// compute the same bits, and the cells agree with the scalar activations of Kernels. On an
/// AVX-512 machine this tests all three paths in one process; `make test` also runs the parity
/// suites with SWIFTRNN_SIMD=avx2 and =baseline, so the whole library runs on each.
final class DispatchTests: XCTestCase {
    var tables: [srk_table] {
        (0..<Int32(SRK_LEVEL_COUNT)).compactMap { srk_table_for($0)?.pointee }
    }

    func testTheCPUHasAtLeastTheBaselineAndTheEnvironmentOnlyLowers() {
        XCTAssertGreaterThanOrEqual(tables.count, 1)
        XCTAssertEqual(tables.count, Int(srk_cpu_level()) + 1)
        XCTAssertLessThanOrEqual(Kernels.simd.level, srk_cpu_level())
        XCTAssertNil(srk_table_for(-1))
        XCTAssertNil(srk_table_for(Int32(SRK_LEVEL_COUNT)))
        if let want = ProcessInfo.processInfo.environment["SWIFTRNN_SIMD"], want == "avx2" || want == "baseline" {
            XCTAssertEqual(Kernels.simdLevel, srk_cpu_level() >= SRK_AVX2 || want == "baseline" ? want : "baseline")
        }
    }

    private func random(_ n: Int, _ rng: inout RandomSource, scale: Double = 1) -> [Float] {
        (0..<n).map { _ in Float((rng.unit() - 0.5) * 2 * scale) }
    }

    func testMatrixKernelsGiveTheSameBitsOnEveryPath() {
        var rng = RandomSource(seed: 11)
        for (rows, cols, m) in [(256, 64, 9), (2048, 512, 1), (33, 17, 5), (64, 3, 4), (7, 1, 2), (320, 80, 3), (1, 16, 1)] {
            let w = random(rows * cols, &rng), x = random(m * cols, &rng), y0 = random(m * rows, &rng)
            var results: [[UInt32]] = []
            for t in tables {
                var a = y0, b = y0, c = y0
                w.withUnsafeBufferPointer { wp in x.withUnsafeBufferPointer { xp in
                    a.withUnsafeMutableBufferPointer { t.matvec_t_rows(wp.baseAddress!, rows, cols, xp.baseAddress!, cols, $0.baseAddress!, rows, m) }
                    b.withUnsafeMutableBufferPointer { t.matvec(wp.baseAddress!, rows, cols, xp.baseAddress!, $0.baseAddress!, 1) }
                    c.withUnsafeMutableBufferPointer { t.matvec(wp.baseAddress!, rows, cols, xp.baseAddress!, $0.baseAddress!, 0) }
                } }
                results.append((a + b + c).map(\.bitPattern))
            }
            for (k, r) in results.enumerated().dropFirst() {
                XCTAssertEqual(r, results[0], "\(rows)x\(cols)x\(m): \(String(cString: tables[k].name)) vs \(String(cString: tables[0].name))")
            }
        }
    }

    /// The input side of the int8 products: every path quantizes to the bytes, scale and zero
    /// point of the scalar definition (vector lanes and the scalar tail alike), for lengths
    /// around the 16-lane width, ties at .5, signed zeros, constant vectors, NaN and infinity.
    func testInputQuantizationIsTheScalarDefinitionOnEveryPath() {
        func reference(_ x: [Float]) -> (q: [UInt8], xs: Float, zp: Int32) {
            guard x.allSatisfy(\.isFinite) else { return ([UInt8](repeating: 0, count: x.count), .nan, 0) }
            let lo = x.reduce(Float(0)) { $1 < $0 ? $1 : $0 }, hi = x.reduce(Float(0)) { $1 > $0 ? $1 : $0 }
            guard hi != lo else { return ([UInt8](repeating: 0, count: x.count), 0, 0) }
            let xs = (hi - lo) / 255
            let z = min(255, max(0, (-lo / xs).rounded(.toNearestOrEven)))
            return (x.map { UInt8(min(255, max(0, ($0 / xs).rounded(.toNearestOrEven) + z))) }, xs, Int32(z))
        }
        var rng = RandomSource(seed: 5)
        var cases: [[Float]] = [[], [0], [-0.0, 0, -0.0], [Float](repeating: 0.25, count: 40), [1, -1, 0.5, -0.5, 2.5, -2.5],
                                (0..<255).map { Float($0) - 127 }, [3, .nan, 1], [Float](repeating: 1, count: 17) + [.infinity]]
        for n in [1, 15, 16, 17, 31, 32, 33, 96, 100, 288] { cases.append(random(n, &rng, scale: Double(n) / 7)) }
        for x in cases {
            let want = reference(x), padded = (x.count + 63) / 64 * 64 + 64
            for t in tables {
                var q = [UInt8](repeating: 0xAB, count: padded), xs: Float = -1, zp: Int32 = -1
                x.withUnsafeBufferPointer { xp in q.withUnsafeMutableBufferPointer { t.quantize_u8(xp.baseAddress ?? UnsafePointer(bitPattern: 16)!, x.count, padded, $0.baseAddress!, &xs, &zp) } }
                let name = String(cString: t.name)
                XCTAssertEqual(Array(q.prefix(x.count)), want.q, "\(name) \(x.prefix(8))")
                XCTAssertTrue(q.dropFirst(x.count).allSatisfy { $0 == 0 }, "\(name): padding")
                XCTAssertEqual(xs.bitPattern, want.xs.bitPattern, "\(name) scale")
                XCTAssertEqual(zp, want.zp, "\(name) zero point")
            }
        }
    }

    /// Issue 13: weights kept in F16 or BF16 give, on every path, the bits the float kernels
    /// give for those weights widened (what loading converted them to before). Every binary16
    /// class is in the weights: normals, subnormals, zeros of both signs, the largest finite.
    func testHalfWeightKernelsGiveTheBitsOfTheirFloatConversion() {
        var rng = RandomSource(seed: 13)
        for kind in [HalfKind.f16, .bf16] {
            for (rows, cols, m) in [(256, 64, 9), (2048, 512, 1), (33, 17, 5), (64, 3, 4), (7, 1, 2), (320, 80, 3), (288, 96, 16)] {
                var bits = (0..<(rows * cols)).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
                // Only finite weights reach the kernels (the loader refuses the others).
                for k in bits.indices {
                    let v = kind == .f16 ? HalfFloat.f16ToF32(bits[k]) : HalfFloat.bf16ToF32(bits[k])
                    if !v.isFinite || abs(v) > 4 { bits[k] &= kind == .f16 ? 0x83FF : 0x807F }   // a subnormal
                }
                for (k, special) in [0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF].enumerated() where k < bits.count && kind == .f16 {
                    bits[k] = UInt16(special)
                }
                let w = FloatBuffer(bits.map { kind == .f16 ? HalfFloat.f16ToF32($0) : HalfFloat.bf16ToF32($0) })
                let x = random(m * cols, &rng, scale: 0.01), y0 = random(m * rows, &rng)
                guard let half = HalfMatrix(exactly: w, kind: kind) else { return XCTFail("\(kind): not exact") }
                let wt = Kernels.transpose(w, rows: rows, cols: cols), ht = half.transposed(rows: rows, cols: cols)
                for t in tables {
                    func run(_ w: FloatSpan?, _ h: HalfSpan?, transposed: Bool, accumulate: Int32) -> [UInt32] {
                        var y = y0
                        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                            if transposed {
                                if let w { t.matvec_t_rows(w.base, rows, cols, xp.baseAddress!, cols, yp.baseAddress!, rows, m) }
                                if let h { t.matvec_t_rows_h(kind.rawValue, h.base, rows, cols, xp.baseAddress!, cols, yp.baseAddress!, rows, m) }
                            } else {
                                if let w { t.matvec(w.base, rows, cols, xp.baseAddress!, yp.baseAddress!, accumulate) }
                                if let h { t.matvec_h(kind.rawValue, h.base, rows, cols, xp.baseAddress!, yp.baseAddress!, accumulate) }
                            }
                        } }
                        return y.map(\.bitPattern)
                    }
                    let name = "\(kind) \(rows)x\(cols)x\(m) on \(String(cString: t.name))"
                    XCTAssertEqual(run(wt.span(), nil, transposed: true, accumulate: 0), run(nil, ht.span(), transposed: true, accumulate: 0), name + " rows^T")
                    for acc: Int32 in [0, 1] {
                        XCTAssertEqual(run(w.span(), nil, transposed: false, accumulate: acc), run(nil, half.span(), transposed: false, accumulate: acc), name + " matvec")
                    }
                }
            }
        }
    }

    /// A matrix that is not exactly half is never kept half (a float model stays float).
    func testOnlyExactWeightsAreKeptHalf() {
        XCTAssertNil(HalfMatrix(exactly: FloatBuffer([0.1]), kind: .f16))
        XCTAssertNil(HalfMatrix(exactly: FloatBuffer([1e-30]), kind: .bf16))
        XCTAssertNotNil(HalfMatrix(exactly: FloatBuffer([0.5, -2, 0]), kind: .f16))
    }

    func testCellsGiveTheSameBitsOnEveryPathAndMatchTheScalarActivations() {
        var rng = RandomSource(seed: 12)
        for cell in CellKind.allCases {
            for H in [1, 15, 16, 17, 64, 96, 100] {
                let G = cell.gates * H, rows = 3
                // Pre-activations up to +-30 reach the clamps of exp; a NaN must stay NaN.
                var gx = random(rows * G, &rng, scale: 30)
                gx[G / 2] = .nan
                let gh = random(rows * G, &rng, scale: 3), h0 = random(rows * H, &rng), c0 = random(rows * H, &rng)
                let width = cell == .lstm || cell == .gru ? G + H : H
                var outs: [[UInt32]] = []
                for t in tables {
                    var h = h0, c = c0, tape = [Float](repeating: 0, count: rows * width)
                    gx.withUnsafeBufferPointer { xp in gh.withUnsafeBufferPointer { sp in
                    h.withUnsafeMutableBufferPointer { hp in c.withUnsafeMutableBufferPointer { cp in
                    tape.withUnsafeMutableBufferPointer { tp in
                        t.cell_steps(cell.kernelCode, H, H, rows, xp.baseAddress!, G, sp.baseAddress!, G,
                                     hp.baseAddress!, cp.baseAddress!, tp.baseAddress!, width)
                    }}}}}
                    outs.append((h + c + tape).map(\.bitPattern))
                    // Against the scalar activations, unit by unit.
                    for j in 0..<rows { for k in 0..<H {
                        let x = { (g: Int) in gx[j * G + g * H + k] + gh[j * G + g * H + k] }
                        let want: Float
                        switch cell {
                        case .lstm:
                            let cn = Kernels.sigmoid(x(1)) * c0[j * H + k] + Kernels.sigmoid(x(0)) * Kernels.tanh(x(2))
                            want = Kernels.sigmoid(x(3)) * Kernels.tanh(cn)
                        case .gru:
                            let r = Kernels.sigmoid(x(0)), z = Kernels.sigmoid(x(1))
                            let n = Kernels.tanh(gx[j * G + 2 * H + k] + r * gh[j * G + 2 * H + k])
                            want = (1 - z) * n + z * h0[j * H + k]
                        case .rnnTanh, .jordan: want = Kernels.tanh(x(0))  // Jordan: its hidden h
                        case .rnnRelu: want = x(0) < 0 ? 0 : x(0)
                        }
                        let got = h[j * H + k]
                        XCTAssertTrue(want.bitPattern == got.bitPattern || (want.isNaN && got.isNaN),
                                      "\(cell) H=\(H) row \(j) unit \(k): \(got) != \(want)")
                    } }
                }
                for r in outs.dropFirst() {
                    XCTAssertEqual(r, outs[0], "\(cell) H=\(H)")
                }
            }
        }
    }

    func testHalfConversionIsExactAndTheSameOnEveryPath() {
        let all = (0...UInt16.max).map { $0 }
        for t in tables {
            var out = [Float](repeating: 0, count: all.count)
            all.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { t.f16_to_f32(src.baseAddress!, all.count, $0.baseAddress!) } }
            let wrong = zip(all, out).filter { h, f in
                let want = Float(Float16(bitPattern: h))
                return !(want.bitPattern == f.bitPattern || (want.isNaN && f.isNaN && want.sign == f.sign))
            }
            XCTAssertEqual(wrong.count, 0, "\(String(cString: t.name)): first wrong \(wrong.first.map { "\($0)" } ?? "")")
        }
    }

    func testFiniteScanFindsEveryNaNAndInfinityOnEveryPath() {
        for t in tables {
            for n in [0, 1, 15, 16, 17, 100] {
                let ok = [Float](repeating: 1.5, count: n)
                XCTAssertEqual(ok.withUnsafeBufferPointer { t.all_finite($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, n) }, 1)
                for bad in [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7F80_0001)] {
                    for at in Set([0, n / 2, max(0, n - 1)]) where at < n {
                        var x = ok
                        x[at] = bad
                        XCTAssertEqual(x.withUnsafeBufferPointer { t.all_finite($0.baseAddress!, n) }, 0,
                                       "\(String(cString: t.name)) n=\(n) at \(at): \(bad)")
                    }
                }
            }
            var big = [Float](repeating: .greatestFiniteMagnitude, count: 33)
            big[32] = -.greatestFiniteMagnitude
            XCTAssertEqual(big.withUnsafeBufferPointer { t.all_finite($0.baseAddress!, 33) }, 1)
        }
    }
}
