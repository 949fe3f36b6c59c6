import XCTest
@testable import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

/// The BLAS core libswiftrnn selects must compute correct results: `make test` runs this once in
/// the user's environment and once with OPENBLAS_CORETYPE unset (the core the library picks).
final class KernelTests: XCTestCase {
    func testGEMMAgreesWithADoubleLoop() throws {
        try BLAS.ensureLoaded()
        var rng = RandomSource(seed: 3)
        for (m, n, k) in [(1, 2048, 512), (7, 33, 5), (64, 2048, 768), (300, 256, 20), (1, 1, 1), (129, 80, 512)] {
            let a = (0..<(m * k)).map { _ in Float(rng.unit() - 0.5) }
            let w = (0..<(n * k)).map { _ in Float(rng.unit() - 0.5) }
            var c = FloatBuffer(count: m * n)
            let ab = FloatBuffer(a), wb = FloatBuffer(w)
            Kernels.gemmNT(m: m, n: n, k: k, ab.span(), lda: k, wb.span(), c.mutableSpan(), ldc: n, beta: 0)
            var worst = 0.0
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for q in 0..<k { s += Double(a[i * k + q]) * Double(w[j * k + q]) }
                worst = max(worst, abs(s - Double(c[i * n + j])))
            } }
            XCTAssertLessThan(worst, 1e-4 * Double(k).squareRoot(), "\(m)x\(n)x\(k) on core \(BLAS.coreDescription.core)")
        }
    }

    /// The 4-row recurrence kernel gives each row the bits of the one-row kernel and the right
    /// sums, for output counts around the 64-wide block.
    func testRowsKernelEqualsTheOneRowKernel() {
        var rng = RandomSource(seed: 5)
        for (rows, cols, m) in [(256, 64, 9), (192, 64, 4), (160, 40, 7), (28, 7, 5), (64, 3, 1), (320, 80, 3)] {
            let wt = (0..<(rows * cols)).map { _ in Float(rng.unit() - 0.5) }
            let x = (0..<(m * cols)).map { _ in Float(rng.unit() - 0.5) }
            let y0 = (0..<(m * rows)).map { _ in Float(rng.unit() - 0.5) }
            var many = FloatBuffer(y0), one = FloatBuffer(y0)
            let w = FloatBuffer(wt), xb = FloatBuffer(x)
            Kernels.matvecTransposedRows(w.span(), rows: rows, cols: cols, xb.span(), ldx: cols,
                                         many.mutableSpan(), ldy: rows, count: m)
            let o = one.mutableSpan()
            for j in 0..<m {
                Kernels.matvecTransposed(w.span(), rows: rows, cols: cols, xb.span(j * cols, cols), o.slice(j * rows, rows))
            }
            XCTAssertEqual(many.map(\.bitPattern), one.map(\.bitPattern), "\(rows)x\(cols), \(m) rows")
            var worst = 0.0
            for j in 0..<m { for r in 0..<rows {
                var s = Double(y0[j * rows + r])
                for k in 0..<cols { s += Double(wt[k * rows + r]) * Double(x[j * cols + k]) }
                worst = max(worst, abs(s - Double(many[j * rows + r])))
            } }
            XCTAssertLessThan(worst, 1e-5, "\(rows)x\(cols)")
        }
    }

    /// The activations every cell uses: exp within 3 ulp-ish relative, sigmoid and tanh within
    /// 3e-7 absolute, clamping at the ends, NaN kept.
    func testActivationsAreAccurate() {
        var x: Float = -90
        var worstExp = 0.0, worstSig = 0.0, worstTanh = 0.0
        while x <= 90 {
            let e = Double(Kernels.exp(x)), want = Glibc.exp(Double(x))
            if x > -87 && x < 88 { worstExp = max(worstExp, abs(e - want) / want) }
            worstSig = max(worstSig, abs(Double(Kernels.sigmoid(x)) - 1 / (1 + Glibc.exp(-Double(x)))))
            worstTanh = max(worstTanh, abs(Double(Kernels.tanh(x)) - Glibc.tanh(Double(x))))
            x += 0.0137
        }
        XCTAssertLessThan(worstExp, 4e-7)
        XCTAssertLessThan(worstSig, 3e-7)
        XCTAssertLessThan(worstTanh, 3e-7)
        XCTAssertTrue(Kernels.exp(.nan).isNaN && Kernels.sigmoid(.nan).isNaN && Kernels.tanh(.nan).isNaN)
        XCTAssertEqual(Kernels.sigmoid(-200), 0, accuracy: 1e-30)
        XCTAssertEqual(Kernels.sigmoid(200), 1)
        XCTAssertEqual(Kernels.tanh(-50), -1)
        XCTAssertEqual(Kernels.tanh(50), 1)
        XCTAssertEqual(Kernels.exp(1000), Kernels.exp(88.72283), "clamped")
        XCTAssertEqual(Kernels.exp(-1000), Kernels.exp(-87.33654), "clamped")
    }

    /// Every one of the 65,536 F16 bit patterns converts exactly (NaN stays NaN with its sign).
    func testEveryHalfFloatConvertsExactly() {
        for h in 0...0xFFFF {
            let bits = UInt16(h)
            let sign: Double = bits & 0x8000 != 0 ? -1 : 1
            let exp = Int(bits >> 10) & 0x1F, mant = Double(bits & 0x3FF)
            let got = HalfFloat.f16ToF32(bits)
            if exp == 0x1F {
                if mant == 0 { XCTAssertEqual(Double(got), sign * .infinity, "\(h)") } else { XCTAssertTrue(got.isNaN, "\(h)") }
                XCTAssertEqual(got.sign == .minus, sign < 0, "\(h)")
                continue
            }
            let want = exp == 0 ? sign * mant * 0x1p-24 : sign * (1024 + mant) * Glibc.pow(2, Double(exp - 25))
            XCTAssertEqual(Double(got), want, "\(h)")
            XCTAssertEqual(got.sign == .minus, sign < 0, "\(h): sign of zero")
            XCTAssertEqual(HalfFloat.f32ToF16(got), bits, "\(h): round trip")
        }
    }
}
