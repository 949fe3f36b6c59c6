import XCTest
@testable import SwiftRNN

/// Issue 13, item 1: a model read from an F16 or BF16 file keeps its product weights half and
/// gives exactly the bits of the same weights in float: the same logits at every step, the
/// same generated text, the same scores alone and in batches.
final class HalfPrecisionTests: XCTestCase {
    /// The model as a half file, and that file's weights written back as float.
    private func twins(_ model: Model, _ dtype: SafeTensors.DType) throws -> (half: Model, float: Model) {
        let halfBytes = model.serialize(dtype: dtype)
        let half = try halfBytes.withUnsafeBytes { try Model.load(bytes: $0) }
        let floatBytes = half.serialize(dtype: .f32)
        let float = try floatBytes.withUnsafeBytes { try Model.load(bytes: $0) }
        return (half, float)
    }

    func testHalfCharModelsGiveTheFloatBits() throws {
        for dtype in [SafeTensors.DType.f16, .bf16] {
            for (cell, layers, H) in [(CellKind.lstm, 2, 40), (.gru, 1, 33), (.rnnTanh, 1, 16), (.lstm, 1, 160)] {
                let (h, f) = try twins(makeModel(kind: .charlm, cell: cell, layers: layers, E: 7, H: H, seed: 4), dtype)
                guard case let .charlm(hm) = h, case let .charlm(fm) = f else { return XCTFail() }
                let name = "\(dtype) \(cell) L\(layers) H\(H)"
                XCTAssertEqual(hm.stepPrecision, dtype.rawValue.lowercased(), name)
                XCTAssertEqual(fm.stepPrecision, "f32", name)
                var hs = hm.makeState(), fs = fm.makeState()
                for (t, id) in [2, 5, 3, 0, 1, 7, 7, 4, 11, 9].enumerated() {
                    hm.step(Int32(id), &hs); fm.step(Int32(id), &fs)
                    XCTAssertEqual(hs.logits.map(\.bitPattern), fs.logits.map(\.bitPattern), "\(name) step \(t)")
                }
                let p = SamplingParameters(scaleFactor: 1.5, seed: 9), p2 = SamplingParameters(scaleFactor: 1.5, seed: 9, threads: 2)
                XCTAssertEqual(try Generator.sample(model: hm, prime: "Tea", count: 400, parameters: p2),
                               try Generator.sample(model: fm, prime: "Tea", count: 400, parameters: p), name)
            }
        }
    }

    func testHalfSentimentModelsGiveTheFloatBits() throws {
        let texts = ["good movie", "the awful the bad movie " + String(repeating: "great ", count: 300), "", "bad",
                     "movie movie good", "the the the"]
        for dtype in [SafeTensors.DType.f16, .bf16] {
            // H 256: W_hh has 1024 x 256 weights, enough for the row kernels to keep it half.
            for (cell, bi, H) in [(CellKind.gru, true, 24), (.lstm, false, 256), (.rnnRelu, true, 24)] {
                let (h, f) = try twins(makeModel(kind: .sentiment, cell: cell, bidirectional: bi, E: 6, H: H, seed: 5), dtype)
                guard case let .sentiment(hm) = h, case let .sentiment(fm) = f else { return XCTFail() }
                XCTAssertEqual(hm.weights.halfKind, dtype == .f16 ? .f16 : .bf16)
                XCTAssertEqual(hm.transposed?.hh[0].isHalf, H == 256, "\(cell) H\(H)")
                XCTAssertEqual(texts.map { hm.score($0).bitPattern }, texts.map { fm.score($0).bitPattern }, "\(dtype) \(cell)")
                XCTAssertEqual(hm.scoreBatch(texts, threads: 2).map(\.bitPattern), texts.map { fm.score($0).bitPattern })
            }
        }
    }
}
