import Foundation
import XCTest
@testable import SwiftRNN

/// Where the committed fixtures live (written by tools/make_fixtures.py from PyTorch).
let fixturesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func fixturePath(_ relative: String) -> String { fixturesDir.appendingPathComponent(relative).path }

/// `name` in this test process's scratch folder for `suite` (created on first use).
func scratchPath(_ suite: String, _ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftrnn-\(suite)-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

func readJSON(_ relative: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(contentsOf: fixturesDir.appendingPathComponent(relative)))
}

/// Opens a safetensors file and keeps its bytes alive for the closure.
func withSafeTensors<R>(_ path: String, _ body: (SafeTensors) throws -> R) throws -> R {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    return try bytes.withUnsafeBytes { b in try body(try SafeTensors(bytes: b)) }
}

func maxAbsDiff<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float where A.Element == Float, B.Element == Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var m: Float = 0
    for (x, y) in zip(a, b) { m = max(m, abs(x - y)) }
    return m
}

func assertClose<A: Collection, B: Collection>(_ a: A, _ b: B, tol: Float = 1e-5, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) where A.Element == Float, B.Element == Float {
    XCTAssertEqual(a.count, b.count, "\(what): length", file: file, line: line)
    guard a.count == b.count else { return }
    let d = maxAbsDiff(a, b)
    XCTAssertLessThanOrEqual(d, tol, "\(what): max abs diff \(d)", file: file, line: line)
}

/// Asserts that `body` throws a SwiftRNNError with `code` whose message contains `fragment`.
func assertThrows<R>(_ code: SwiftRNNError.Code, _ fragment: String, file: StaticString = #filePath,
                     line: UInt = #line, _ body: () throws -> R) {
    do {
        _ = try body()
        XCTFail("expected \(code) containing '\(fragment)', got success", file: file, line: line)
    } catch let e as SwiftRNNError {
        XCTAssertEqual(e.code, code, "message: \(e.message)", file: file, line: line)
        XCTAssertFalse(e.message.isEmpty, "an error needs a message", file: file, line: line)
        if !fragment.isEmpty {
            XCTAssertTrue(e.message.contains(fragment), "'\(e.message)' lacks '\(fragment)'", file: file, line: line)
        }
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

/// A small random model of either kind, built in Swift (no fixture needed).
func makeModel(kind: ModelKind, cell: CellKind = .lstm, layers: Int = 1, bidirectional: Bool = false,
               vocab: [String]? = nil, E: Int = 6, H: Int = 5, seed: UInt64 = 1) -> Model {
    var rng = RandomSource(seed: seed)
    func rand(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.unit() * 1.0 - 0.5) } }
    let v = vocab ?? (kind == .sentiment
        ? ["<pad>", "<unk>", "good", "bad", "great", "awful", "movie", "the"]
        : ["\n", " ", "T", "a", "d", "e", "h", "i", "l", "n", "s", "é"])
    let D = bidirectional ? 2 : 1, G = cell.gates
    var w: [RecurrentWeights] = []
    for l in 0..<layers {
        for _ in 0..<D {
            w.append(RecurrentWeights(wIH: rand(G * H * (l == 0 ? E : D * H)), wHH: rand(G * H * H),
                                      bIH: rand(G * H), bHH: rand(G * H)))
        }
    }
    let rnn = Recurrent(cell: cell, inputSize: E, hiddenSize: H, numLayers: layers, bidirectional: bidirectional, weights: w)
    let head: [Linear] = kind == .sentiment
        ? [Linear(inFeatures: D * H, outFeatures: 4, weight: rand(4 * D * H), bias: rand(4)),
           Linear(inFeatures: 4, outFeatures: 1, weight: rand(4), bias: rand(1))]
        : [Linear(inFeatures: H, outFeatures: v.count, weight: rand(v.count * H), bias: rand(v.count))]
    let config = ModelConfig(kind: kind, cell: cell, vocabSize: v.count, embeddingDim: E, hiddenSize: H,
                             numLayers: layers, bidirectional: bidirectional,
                             head: kind == .sentiment ? ["fc1", "fc2"] : ["fc"], vocab: v)
    let weights = ModelWeights(embedding: Embedding(count: v.count, dimension: E, weight: rand(v.count * E),
                                                          paddingIndex: kind == .sentiment ? 0 : nil),
                               rnn: rnn, head: head)
    return try! Model.make(config: config, weights: weights)
}
