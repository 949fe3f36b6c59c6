import XCTest
@testable import SwiftRNN

/// Issue 12 (F4): inference projects the input a chunk of `Recurrent.chunkSteps` time steps at a
/// time and looks embedding rows up per chunk. Chunking must not change a bit: every row is
/// computed by the same kernels, only fewer at once.
final class BoundedMemoryTests: XCTestCase {
    func testChunkedInferenceGivesTheBitsOfTheWholeSequenceAtOnce() throws {
        var rng = RandomSource(seed: 21)
        for (cell, layers, bi, H) in [(CellKind.lstm, 2, true, 16), (.gru, 1, true, 24), (.rnnTanh, 1, false, 8),
                                      (.lstm, 1, false, 300)] {
            let model = makeModel(kind: .sentiment, cell: cell, layers: layers, bidirectional: bi, E: 6, H: H)
            guard case let .sentiment(m) = model else { return XCTFail() }
            let rnn = m.weights.rnn
            // Lengths around and past the chunk (256 steps), several sequences in one batch.
            let lengths = [3 * Recurrent.chunkSteps + 17, Recurrent.chunkSteps, 300, 5, 1]
            let packed = PackedBatch(lengths: lengths)
            var ids = [Int32](repeating: 0, count: packed.rows)
            for r in 0..<packed.rows { ids[r] = Int32(rng.next() % UInt64(m.vocabulary.count)) }
            let x = m.weights.embedding.lookup(ids)
            let transposed = H <= 256 ? TransposedWeights(rnn) : nil
            // A tape makes the layer project every step at once: the reference.
            let whole = rnn.forward(.rows(x), batch: packed, tape: RecurrentTape(layers: layers, directions: bi ? 2 : 1),
                                    transposed: transposed)
            let chunked = rnn.forward(.embedding(m.weights.embedding, ids: ids), batch: packed,
                                      transposed: transposed)
            XCTAssertEqual(whole.h.map(\.bitPattern), chunked.h.map(\.bitPattern), "\(cell) L\(layers) bi \(bi) H\(H)")
            XCTAssertEqual(whole.output.map(\.bitPattern), chunked.output.map(\.bitPattern), "\(cell): outputs")
            let noOutput = rnn.forward(.embedding(m.weights.embedding, ids: ids), batch: packed,
                                       transposed: transposed, keepOutput: false)
            XCTAssertEqual(whole.h.map(\.bitPattern), noOutput.h.map(\.bitPattern), "\(cell): keepOutput false")
            XCTAssertTrue(noOutput.output.isEmpty)
        }
    }

    func testALongReviewScoresAsItsBatchDoes() throws {
        let model = makeModel(kind: .sentiment, cell: .gru, layers: 1, bidirectional: true, E: 6, H: 16)
        guard case let .sentiment(m) = model else { return XCTFail() }
        let long = String(repeating: "a good movie, the awful great movie. ", count: 400)
        let texts = [long, "good", String(long.prefix(3000)), ""]
        let alone = texts.map { m.score($0) }
        let batch = m.scoreBatch(texts, threads: 2)
        XCTAssertEqual(alone.map(\.bitPattern), batch.map(\.bitPattern))
        XCTAssertTrue(alone.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
    }
}
