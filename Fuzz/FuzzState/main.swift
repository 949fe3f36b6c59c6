// libFuzzer: generator state and sampling controls through the C API (issue 15): arbitrary
// controls (penalty, window, min-p, banned characters, stop strings), feeds, logits, and saved
// states that are mutated (with the checksum resealed or not) or made of raw fuzz bytes. Every
// call must return a status; a restored intact state must continue exactly as the original.
import CSwiftRNN
import SwiftRNN

let model: OpaquePointer = {
    var rng = RandomSource(seed: 3)
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
    mutating func bytes(_ n: Int) -> [CChar] {
        var out: [CChar] = []
        while out.count < n && i < data.count { out.append(CChar(bitPattern: data[i])); i += 1 }
        return out
    }
}

func draw(_ g: OpaquePointer, _ n: Int) -> [CChar] {
    var out: [CChar] = []
    var ch = [CChar](repeating: 0, count: 8)
    for _ in 0..<n {
        var len = 0
        let st = swiftrnn_generator_next(g, &ch, ch.count, &len)
        guard st == 0 else { break }
        out.append(contentsOf: ch[0..<len])
    }
    return out
}

func save(_ g: OpaquePointer) -> [UInt8] {
    var n = 0
    guard swiftrnn_generator_save_state(g, nil, 0, &n) == 6 else { fatalError("size query") }
    var b = [UInt8](repeating: 0, count: n)
    let cap = n
    guard swiftrnn_generator_save_state(g, &b, cap, &n) == 0, n == b.count else { fatalError("save failed") }
    return b
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var r = Reader(data: UnsafeRawBufferPointer(start: data, count: size))
    // swiftrnn_sample_params (104 bytes; offsets as Tests/c/abi_check.c asserts).
    var p = [UInt8](repeating: 0, count: 104)
    swiftrnn_sample_params_init(&p)
    func put<T>(_ v: T, _ at: Int) { p.withUnsafeMutableBytes { $0.storeBytes(of: v, toByteOffset: at, as: T.self) } }
    put(Float(r.take(UInt8.self)) / 32, 8)             // scale_factor
    put(Int32(r.take(Int8.self)), 12)                 // top_k
    put(Float(r.take(UInt8.self)) / 200, 16)          // top_p
    put(Int32(r.take(UInt8.self) & 1), 20)            // greedy
    put(UInt64(r.take(UInt16.self)), 24)              // seed
    put(r.take(Float.self), 72)                       // repetition_penalty
    put(Int32(r.take(Int16.self)), 76)                // repetition_window
    put(Float(r.take(UInt8.self)) / 240, 80)          // min_p
    let banned = r.bytes(Int(r.take(UInt8.self) % 8))
    let nStops = Int(r.take(UInt8.self) % 4)
    let stops: [[CChar]] = (0..<nStops).map { _ in r.bytes(Int(r.take(UInt8.self) % 5)) + [0] }
    let prime = r.bytes(1 + Int(r.take(UInt8.self) % 8))
    let fed = r.bytes(Int(r.take(UInt8.self) % 8))
    let n1 = Int(r.take(UInt8.self) % 40), n2 = Int(r.take(UInt8.self) % 40)
    let useLogits = r.take(UInt8.self) & 1 == 1
    let reseal = r.take(UInt8.self) & 1 == 1
    let flips = Int(r.take(UInt8.self) % 4)
    let rest = r.bytes(size)

    return withArrayOfCStrings(stops) { stopPtrs in
        banned.withUnsafeBufferPointer { bp in
            put(nStops > 0 ? stopPtrs : nil, 56)          // stop_strings
            put(nStops, 64)                               // n_stop_strings
            put(bp.count > 0 ? bp.baseAddress : nil, 88)  // banned
            put(bp.count, 96)                             // banned_len
            var g: OpaquePointer? = nil
            guard swiftrnn_generator_create(model, prime, prime.count, &p, &g) == 0, let g else { return 0 }
            defer { swiftrnn_generator_free(g) }
            _ = draw(g, n1)
            _ = swiftrnn_generator_feed(g, fed, fed.count)
            var logits = [Float](repeating: 0, count: 16)
            var nl = 0
            if useLogits { _ = swiftrnn_generator_logits(g, &logits, logits.count, &nl) }
            let state = save(g)
            let want = draw(g, n2)
            // The intact state restores exactly.
            guard swiftrnn_generator_load_state(g, state, state.count) == 0 else { fatalError("own state refused") }
            guard draw(g, n2) == want else { fatalError("restored generator differs") }
            // A mutated one: refused, or accepted and usable.
            var bad = state
            var k = 0
            for f in 0..<flips where !rest.isEmpty {
                let at = Int(UInt8(bitPattern: rest[(2 * f) % rest.count])) * 7 % bad.count
                bad[at] ^= UInt8(bitPattern: rest[(2 * f + 1) % rest.count]) | 1
                k += 1
            }
            if reseal, bad.count >= 8 {
                let body = Array(bad.dropLast(8))
                let sum = body.withUnsafeBytes { GeneratorStateLayout.fnv1a($0) }
                bad = body
                withUnsafeBytes(of: sum.littleEndian) { bad.append(contentsOf: $0) }
            }
            if swiftrnn_generator_load_state(g, bad, bad.count) == 0 {
                _ = draw(g, 20)
                if useLogits { _ = swiftrnn_generator_logits(g, &logits, logits.count, &nl) }
                _ = save(g)
            } else if k == 0 && !reseal {
                fatalError("an unmodified state was refused")
            }
            // Raw fuzz bytes as a state.
            let raw = rest.map { UInt8(bitPattern: $0) }
            if swiftrnn_generator_load_state(g, raw, raw.count) == 0 { _ = draw(g, 5) }
            var idx: Int32 = 0
            _ = swiftrnn_generator_stop_index(g, &idx)
            return 0
        }
    }
}

/// `body` with a C array of pointers to each NUL-terminated string.
func withArrayOfCStrings<R>(_ strings: [[CChar]], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { s -> UnsafeMutablePointer<CChar> in
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: s.count)
        p.initialize(from: s, count: s.count)
        return p
    }
    defer { copies.forEach { $0.deallocate() } }
    let ptrs: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
    return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
}
