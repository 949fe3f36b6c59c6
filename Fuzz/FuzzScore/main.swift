// libFuzzer: arbitrary bytes as a review (tokenize, encode, score, batch) with a small model
// built in-process, with an n-gram term (order 3, 7 buckets: hashing and features), through
// the C API.
import CSwiftRNN
import SwiftRNN

let model: OpaquePointer = {
    var rng = RandomSource(seed: 1)
    func r(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.unit() - 0.5) } }
    let vocab = ["<pad>", "<unk>", "the", "good", "bad", "film", ":)", "é", "日本"]
    let E = 4, H = 3, V = vocab.count
    let rnn = Recurrent(cell: .gru, inputSize: E, hiddenSize: H, numLayers: 2, bidirectional: true,
                        weights: (0..<4).map { k in RecurrentWeights(wIH: r(3 * H * (k < 2 ? E : 2 * H)), wHH: r(3 * H * H), bIH: r(3 * H), bHH: r(3 * H)) })
    var config = ModelConfig(kind: .sentiment, cell: .gru, vocabSize: V, embeddingDim: E, hiddenSize: H, numLayers: 2,
                             bidirectional: true, head: ["fc1", "fc2"], vocab: vocab)
    var w = ModelWeights(embedding: Embedding(count: V, dimension: E, weight: r(V * E), paddingIndex: 0), rnn: rnn,
                         head: [Linear(inFeatures: 2 * H, outFeatures: 2, weight: r(4 * H), bias: r(2)),
                                Linear(inFeatures: 2, outFeatures: 1, weight: r(2), bias: r(1))])
    w.ngrams = NGramBag(order: 3, buckets: 7, outputs: 1, idf: FloatBuffer(r(7)), weight: FloatBuffer(r(7)))
    config.ngramOrder = 3
    config.ngramBuckets = 7
    let bytes = try! Model.make(config: config, weights: w).serialize()
    var m: OpaquePointer? = nil
    precondition(bytes.withUnsafeBytes { swiftrnn_model_load_from_memory($0.baseAddress, $0.count, &m) } == 0)
    return m!
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = UnsafeRawPointer(data ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self)
    var p: Float = -1
    guard swiftrnn_score_sentiment(model, text, size, &p) == 0, p >= 0, p <= 1 else { fatalError("score failed") }
    var count = 0
    _ = swiftrnn_encode(model, text, size, nil, 0, &count)
    var ids = [Int32](repeating: 0, count: max(count, 1))
    guard swiftrnn_encode(model, text, size, &ids, ids.count, &count) == 0 else { fatalError("encode failed") }
    var need = 0
    _ = swiftrnn_tokenize(text, size, nil, 0, &need)
    var buf = [CChar](repeating: 0, count: need + 1)
    guard swiftrnn_tokenize(text, size, &buf, buf.count, &need) == 0 else { fatalError("tokenize failed") }
    // The batch equals the single call, with the text split in two at a fuzzed point.
    let cut = size > 0 ? Int(data![0]) % (size + 1) : 0
    var texts: [UnsafePointer<CChar>?] = [text, text + cut]
    var lens = [cut, size - cut]
    var probs: [Float] = [0, 0]
    guard swiftrnn_score_sentiment_batch(model, &texts, &lens, 2, 2, &probs) == 0 else { fatalError("batch failed") }
    var single: Float = 0
    _ = swiftrnn_score_sentiment(model, text + cut, size - cut, &single)
    guard single == probs[1] else { fatalError("batch differs from single") }
    return 0
}
