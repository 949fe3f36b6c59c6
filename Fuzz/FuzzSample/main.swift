// libFuzzer: arbitrary sampling parameters, lengths, buffer sizes and primes with a small
// character model, through the C API (sample_text, the generator, log-likelihood).
import CSwiftRNN
import SwiftRNN

let model: OpaquePointer = {
    var rng = RandomSource(seed: 2)
    func r(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.unit() - 0.5) * 3 } }
    let chars = ["\n", " ", "a", "b", "c", "é", "日", "🙂", "\u{0}"]
    let E = 4, H = 5, V = chars.count
    let rnn = Recurrent(cell: .lstm, inputSize: E, hiddenSize: H, numLayers: 2, bidirectional: false,
                        weights: (0..<2).map { k in RecurrentWeights(wIH: r(4 * H * (k == 0 ? E : H)), wHH: r(4 * H * H), bIH: r(4 * H), bHH: r(4 * H)) })
    let config = ModelConfig(kind: .charlm, cell: .lstm, vocabSize: V, embeddingDim: E, hiddenSize: H, numLayers: 2,
                             bidirectional: false, head: ["fc"], vocab: chars)
    let w = ModelWeights(embedding: Embedding(count: V, dimension: E, weight: r(V * E)), rnn: rnn,
                         head: [Linear(inFeatures: H, outFeatures: V, weight: r(V * H), bias: r(V))])
    let bytes = try! Model.make(config: config, weights: w).serialize()
    var m: OpaquePointer? = nil
    precondition(bytes.withUnsafeBytes { swiftrnn_model_load_from_memory($0.baseAddress, $0.count, &m) } == 0)
    return m!
}()

struct Reader {
    var data: UnsafeRawBufferPointer
    var i = 0
    mutating func take<T>(_: T.Type) -> T {
        var v = [UInt8](repeating: 0, count: MemoryLayout<T>.size)
        for k in v.indices where i < data.count { v[k] = data[i]; i += 1 }
        return v.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var r = Reader(data: UnsafeRawBufferPointer(start: data, count: size))
    // swiftrnn_sample_params, field by field (struct_size fuzzed too).
    var params = [UInt8](repeating: 0, count: 40)
    params.withUnsafeMutableBytes { p in
        p.storeBytes(of: Int(r.take(UInt8.self)) % 41, as: Int.self)
        p.storeBytes(of: r.take(Float.self), toByteOffset: 8, as: Float.self)
        p.storeBytes(of: Int32(r.take(Int8.self)), toByteOffset: 12, as: Int32.self)
        p.storeBytes(of: r.take(Float.self), toByteOffset: 16, as: Float.self)
        p.storeBytes(of: Int32(r.take(UInt8.self) & 1), toByteOffset: 20, as: Int32.self)
        p.storeBytes(of: r.take(UInt64.self), toByteOffset: 24, as: UInt64.self)
        p.storeBytes(of: Int32(r.take(Int8.self)), toByteOffset: 32, as: Int32.self)
    }
    let nChars = Int(r.take(UInt16.self)) % 300
    let capacity = Int(r.take(UInt16.self)) % 2000
    let usesNullParams = r.take(UInt8.self) & 1 == 1
    let primeStart = min(r.i, size)
    let prime = UnsafeRawPointer(data ?? UnsafePointer(bitPattern: 1)!).advanced(by: primeStart).assumingMemoryBound(to: CChar.self)
    let primeLen = size - primeStart
    var out = [CChar](repeating: 0x55, count: max(capacity, 1))
    var len = 0
    let st = params.withUnsafeBytes { p in
        swiftrnn_sample_text(model, prime, primeLen, nChars, usesNullParams ? nil : p.baseAddress, &out, capacity, &len)
    }
    if st == 0 {
        guard len < capacity, out[len] == 0 else { fatalError("bad termination") }
        // The stream gives the same characters.
        var g: OpaquePointer? = nil
        let gs = params.withUnsafeBytes { p in
            swiftrnn_generator_create(model, prime, primeLen, usesNullParams ? nil : p.baseAddress, &g)
        }
        guard gs == 0, let g else { fatalError("generator failed where sample_text worked") }
        var pos = primeLen
        var ch = [CChar](repeating: 0, count: 8)
        for _ in 0..<nChars {
            var n = 0
            guard swiftrnn_generator_next(g, &ch, ch.count, &n) == 0 else { fatalError("next failed") }
            for k in 0..<n where out[pos + k] != ch[k] { fatalError("stream differs from sample_text") }
            pos += n
        }
        guard pos == len else { fatalError("stream length differs") }
        swiftrnn_generator_free(g)
    } else if st == 6 {
        guard len >= primeLen else { fatalError("BUFFER_TOO_SMALL reported less than the prime") }
        for k in 0..<out.count where out[k] != 0x55 { fatalError("a too-small buffer was written") }
    }
    var nats = 0.0, predicted = 0
    if swiftrnn_log_likelihood(model, prime, primeLen, &nats, &predicted) == 0 {
        guard nats >= 0, nats.isFinite || predicted == 0 else { fatalError("bad likelihood \(nats)") }
    }
    return 0
}
