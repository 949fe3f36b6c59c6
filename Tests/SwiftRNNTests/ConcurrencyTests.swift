import Foundation
import XCTest
@testable import SwiftRNN
@testable import CSwiftRNN

/// One model shared by many threads through the C API: 8 threads score 10,000 reviews each
/// while 2 others generate text; every result equals the single-threaded one. `make check` runs
/// this under ThreadSanitizer.
final class ConcurrencyTests: XCTestCase {
    func testEightScorersAndTwoGeneratorsShareModels() throws {
        let sBytes = makeModel(kind: .sentiment, cell: .lstm, layers: 1, bidirectional: true).serialize()
        // Hidden size 160: big enough for sample_text's two-thread steps (n_threads 2 below).
        let cBytes = makeModel(kind: .charlm, cell: .gru, H: 160).serialize()
        var sent: OpaquePointer? = nil, lm: OpaquePointer? = nil
        XCTAssertEqual(sBytes.withUnsafeBytes { swiftrnn_model_load_from_memory($0.baseAddress, $0.count, &sent) }, 0)
        XCTAssertEqual(cBytes.withUnsafeBytes { swiftrnn_model_load_from_memory($0.baseAddress, $0.count, &lm) }, 0)
        defer { swiftrnn_model_free(sent); swiftrnn_model_free(lm) }
        let words = ["good", "bad", "great", "awful", "movie", "the", "unknown", ":)", "<br/>"]
        let reviews: [String] = (0..<10_000).map { i in (0..<(1 + i % 7)).map { words[($0 * 7 + i) % words.count] }.joined(separator: " ") }
        func score(_ t: String) -> Float {
            var p: Float = -1
            _ = t.withCString { swiftrnn_score_sentiment(sent, $0, t.utf8.count, &p) }
            return p
        }
        func sample(_ seed: UInt64, threads: Int32 = 1) -> String {
            var params = [UInt8](repeating: 0, count: 40)
            // A 0.1 program's 40-byte struct: the sized init writes only those bytes.
            params.withUnsafeMutableBytes { swiftrnn_sample_params_init_sized($0.baseAddress, 40) }
            params.withUnsafeMutableBytes { $0.storeBytes(of: seed, toByteOffset: 24, as: UInt64.self) }
            params.withUnsafeMutableBytes { $0.storeBytes(of: threads, toByteOffset: 32, as: Int32.self) }
            var out = [CChar](repeating: 0, count: 4096)
            var n = 0
            let st = params.withUnsafeBytes { swiftrnn_sample_text(lm, "Th", 2, 300, $0.baseAddress, &out, out.count, &n) }
            return st == 0 ? String(cString: out) : "error \(st)"
        }
        let expectedScores = reviews.map(score)
        let expectedTexts = (0..<2).map { sample(UInt64($0)) }
        var scoreOK = [Bool](repeating: false, count: 8)
        var textOK = [Bool](repeating: false, count: 2)
        scoreOK.withUnsafeMutableBufferPointer { s in
            textOK.withUnsafeMutableBufferPointer { t in
                Parallel.forEach(count: 10, threads: 10) { k in
                    if k < 8 {
                        s[k] = reviews.indices.allSatisfy { score(reviews[$0]) == expectedScores[$0] }
                    } else {
                        // One generator thread alone, the other with a helper thread per call.
                        t[k - 8] = (0..<5).allSatisfy { _ in sample(UInt64(k - 8), threads: Int32(k - 7)) == expectedTexts[k - 8] }
                    }
                }
            }
        }
        XCTAssertEqual(scoreOK, [Bool](repeating: true, count: 8))
        XCTAssertEqual(textOK, [true, true])
        // The batch entry point from several threads at once, each with its own threads.
        var batchOK = [Bool](repeating: false, count: 3)
        batchOK.withUnsafeMutableBufferPointer { b in
            Parallel.forEach(count: 3, threads: 3) { k in
                let owned = reviews.prefix(2000).map { strdup($0)! }
                defer { owned.forEach { free($0) } }
                var ptrs: [UnsafePointer<CChar>?] = owned.map { UnsafePointer($0) }
                var lens = reviews.prefix(2000).map { $0.utf8.count }
                var out = [Float](repeating: 0, count: 2000)
                let st = swiftrnn_score_sentiment_batch(sent, &ptrs, &lens, 2000, 2, &out)
                b[k] = st == 0 && Array(out) == Array(expectedScores.prefix(2000))
            }
        }
        XCTAssertEqual(batchOK, [true, true, true])
    }
}
