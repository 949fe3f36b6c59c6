import XCTest
@testable import SwiftRNN

/// The BLAS core libswiftrnn selects must compute correct results: `make test` runs this once in
/// the user's environment and once with OPENBLAS_CORETYPE unset (the core the library picks).
final class KernelTests: XCTestCase {
    func testGEMMAgreesWithADoubleLoop() throws {
        try BLAS.ensureLoaded()
        var rng = RandomSource(seed: 3)
        for (m, n, k) in [(1, 2048, 512), (7, 33, 5), (64, 2048, 768), (300, 256, 20), (1, 1, 1), (129, 80, 512)] {
            let a = (0..<(m * k)).map { _ in Float(rng.unit() - 0.5) }
            let w = (0..<(n * k)).map { _ in Float(rng.unit() - 0.5) }
            var c = [Float](repeating: 0, count: m * n)
            a.withUnsafeBufferPointer { ap in w.withUnsafeBufferPointer { wp in c.withUnsafeMutableBufferPointer { cp in
                Kernels.gemmNT(m: m, n: n, k: k, ap.baseAddress!, lda: k, wp.baseAddress!, cp.baseAddress!, ldc: n, beta: 0)
            } } }
            var worst = 0.0
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for q in 0..<k { s += Double(a[i * k + q]) * Double(w[j * k + q]) }
                worst = max(worst, abs(s - Double(c[i * n + j])))
            } }
            XCTAssertLessThan(worst, 1e-4 * Double(k).squareRoot(), "\(m)x\(n)x\(k) on core \(BLAS.coreDescription.core)")
        }
    }
}
