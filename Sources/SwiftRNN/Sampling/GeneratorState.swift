/// A generator's state as bytes (docs/c-api.md, "Generator state layout"): what `saveState`
/// writes and `loadState` reads back, so that a restored generator draws exactly the
/// characters the saved one would have drawn.
///
/// Version 1, every integer and float little-endian:
///
///     offset size
///        0    8  magic "SRNNSTAT"
///        8    4  u32 version (1)
///       12    4  u32 flags: bit 0 the pending character is already taken in and the logits
///                follow the history; bit 1 the last draw completed a stop string
///       16    8  u64 model fingerprint (config, character table and every weight)
///       24    4  u32 cell (swiftrnn_cell)      28  4  u32 num_layers
///       32    4  u32 hidden_size (the state's:     36  4  u32 vocab_size
///                Jordan output_size)
///       40    4  i32 pending character (table index)
///       44    4  i32 stop string index (-1: none)
///       48    8  u64 characters drawn since creation or the last feed
///       56   32  4 x u64 xoshiro256** state of the sampler
///       88    4  u32 history count n           92  4  u32 0 (reserved)
///       96       f32 h[num_layers * hidden_size], f32 c[num_layers * hidden_size],
///                i32 history[n] (oldest first), f32 logits[vocab_size] when flags bit 0
///      end    8  u64 FNV-1a 64 of every byte before it
public enum GeneratorStateLayout {
    public static let magic: [UInt8] = Array("SRNNSTAT".utf8)
    public static let version: UInt32 = 1
    public static let headerSize = 96
    static let maxHistory = 4 * SamplingParameters.maxRepetitionWindow

    /// The checksum of the layout: FNV-1a 64 over `bytes`.
    public static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

extension CharLanguageModel {
    /// A 64-bit hash of the model's configuration, character table and every weight's bits:
    /// what a saved generator state is checked against. About a millisecond per million weights.
    public func stateFingerprint() -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        @inline(__always) func mix(_ v: UInt64) {
            h = (h ^ v) &* 0x0000_0100_0000_01B3
            h ^= h >> 29
        }
        let c = config
        for b in c.cell.rawValue.utf8 { mix(UInt64(b)) }
        for v in [c.vocabSize, c.embeddingDim, c.hiddenSize, c.numLayers, c.directions, c.head.count] { mix(UInt64(bitPattern: Int64(v))) }
        for s in table.characters { mix(UInt64(s.value)) }
        for (_, path) in weights.parameterPaths {
            let p = weights[keyPath: path]
            mix(UInt64(p.count))
            for v in p { mix(UInt64(v.bitPattern)) }
        }
        return h
    }
}

private struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func floats<S: Sequence>(_ a: S) where S.Element == Float { for v in a { u32(v.bitPattern) } }
}

private struct ByteReader {
    let p: UnsafeRawBufferPointer
    var at = 0
    mutating func u32() -> UInt32 { defer { at += 4 }; return UInt32(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    mutating func i32() -> Int32 { Int32(bitPattern: u32()) }
    mutating func u64() -> UInt64 { defer { at += 8 }; return UInt64(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in Float(bitPattern: u32()) } }
}

extension Generator {
    static let cellCodes: [CellKind: UInt32] = [.lstm: 1, .gru: 2, .rnnTanh: 3, .rnnRelu: 4, .jordan: 5]

    /// The generator's state in the layout above. `fingerprint`: the model's
    /// `stateFingerprint()` (the caller may cache it: the model is immutable).
    public func saveState(fingerprint: UInt64) -> [UInt8] {
        let r = model.weights.rnn
        var w = ByteWriter()
        w.bytes.reserveCapacity(GeneratorStateLayout.headerSize + 8 * state.h.count + 4 * history.count
                                + (advanced ? 4 * state.logits.count : 0) + 8)
        w.bytes.append(contentsOf: GeneratorStateLayout.magic)
        w.u32(GeneratorStateLayout.version)
        w.u32((advanced ? 1 : 0) | (stopIndex != nil ? 2 : 0))
        w.u64(fingerprint)
        w.u32(Self.cellCodes[r.cell] ?? 0)
        w.u32(UInt32(r.numLayers))
        w.u32(UInt32(r.stateSize))
        w.u32(UInt32(model.table.count))
        w.i32(last)
        w.i32(Int32(stopIndex ?? -1))
        w.u64(UInt64(drawnSinceFeed))
        for v in sampler.rng.words { w.u64(v) }
        w.u32(UInt32(history.count))
        w.u32(0)
        w.floats(state.h)
        w.floats(state.c)
        for id in history { w.i32(id) }
        if advanced { w.floats(state.logits) }
        let sum = w.bytes.withUnsafeBytes { GeneratorStateLayout.fnv1a($0) }
        w.u64(sum)
        return w.bytes
    }

    /// Replaces the state with a saved one. FORMAT for bytes that are not a whole, intact
    /// state (too short, bad magic, checksum, or values out of range); UNSUPPORTED for a newer
    /// version; INVALID_ARGUMENT for a state saved from another model. On error nothing changes.
    /// The generator keeps its own parameters (stop strings, penalty, ...): only the state moves.
    public mutating func loadState(_ p: UnsafeRawBufferPointer, fingerprint: UInt64) throws(SwiftRNNError) {
        let L = GeneratorStateLayout.self
        guard p.count >= L.headerSize + 8 else {
            throw .format("generator state is \(p.count) bytes; a state has at least \(L.headerSize + 8)")
        }
        guard p.prefix(8).elementsEqual(L.magic) else { throw .format("not a generator state (bad magic)") }
        var rd = ByteReader(p: p, at: 8)
        let version = rd.u32()
        guard version <= L.version else {
            throw .init(.unsupported, "generator state version \(version) is newer than this library's (\(L.version))")
        }
        guard version == L.version else { throw .format("generator state version \(version) is invalid") }
        let stored = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: p.count - 8, as: UInt64.self))
        guard L.fnv1a(UnsafeRawBufferPointer(rebasing: p[..<(p.count - 8)])) == stored else {
            throw .format("generator state is corrupted or truncated (checksum mismatch)")
        }
        let flags = rd.u32()
        guard flags & ~3 == 0 else { throw .format("generator state has unknown flags \(flags)") }
        let fp = rd.u64()
        let r = model.weights.rnn
        let cell = rd.u32(), layers = Int(rd.u32()), hidden = Int(rd.u32()), vocab = Int(rd.u32())
        guard cell == Self.cellCodes[r.cell], layers == r.numLayers, hidden == r.stateSize, vocab == model.table.count else {
            throw .invalid("the generator state is for another model (cell \(cell), \(layers) layers, hidden \(hidden), "
                           + "\(vocab) characters; this model: cell \(Self.cellCodes[r.cell] ?? 0), \(r.numLayers) layers, "
                           + "hidden \(r.stateSize), \(model.table.count) characters)")
        }
        guard fp == fingerprint else {
            throw .invalid("the generator state is for another model of the same shape (fingerprint differs)")
        }
        let pending = rd.i32(), stop = rd.i32(), drawn = rd.u64()
        let words = [rd.u64(), rd.u64(), rd.u64(), rd.u64()]
        let n = Int(rd.u32())
        _ = rd.u32()
        let LH = layers * hidden, advanced = flags & 1 != 0
        guard n <= L.maxHistory else { throw .format("generator state history of \(n) characters is too long") }
        let expected = L.headerSize + 8 * LH + 4 * n + (advanced ? 4 * vocab : 0) + 8
        guard p.count == expected else {
            throw .format("generator state is \(p.count) bytes; its header says \(expected)")
        }
        guard pending >= 0, Int(pending) < vocab else { throw .format("generator state: pending character \(pending) is out of range") }
        guard stop >= -1, (stop >= 0) == (flags & 2 != 0) else { throw .format("generator state: stop index \(stop) does not match its flags") }
        guard drawn <= UInt64(Int.max) else { throw .format("generator state: drawn count \(drawn) is out of range") }
        guard let rng = RandomSource(words: words) else { throw .format("generator state: the random state is all zero") }
        let h = rd.floats(LH), c = rd.floats(LH)
        guard h.allSatisfy(\.isFinite), c.allSatisfy(\.isFinite) else { throw .format("generator state: hidden state is not finite") }
        let hist = (0..<n).map { _ in rd.i32() }
        guard hist.allSatisfy({ $0 >= 0 && Int($0) < vocab }) else { throw .format("generator state: history has a character out of range") }
        var logits: [Float] = []
        if advanced {
            logits = rd.floats(vocab)
            guard logits.allSatisfy(\.isFinite) else { throw .format("generator state: logits are not finite") }
        }
        // Everything is valid: commit.
        state.h = FloatBuffer(h)
        state.c = FloatBuffer(c)
        if advanced { state.logits = FloatBuffer(logits) }
        self.advanced = advanced
        last = pending
        stopIndex = stop >= 0 ? Int(stop) : nil
        drawnSinceFeed = Int(drawn)
        sampler.rng = rng
        history = keep > 0 ? Array(hist.suffix(keep)) : []
    }
}
