// The C ABI of include/swiftrnn.h: thin @_cdecl wrappers and nothing else. Each function checks
// its pointers, converts C values to Swift ones, calls the core, and turns every thrown
// SwiftRNNError into a status plus this thread's message. No path here may trap: the core
// validates before it computes, and these wrappers validate before they call it.
import SwiftRNN
import SwiftRNNABI
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Status and the per-thread message

private let OK: Int32 = 0

/// Each thread's last failure message, a malloc'd C string behind a pthread key.
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

@discardableResult
private func fail(_ code: SwiftRNNError.Code, _ message: String) -> Int32 {
    let old = pthread_getspecific(errorKey)
    let copy = strdup(message)
    pthread_setspecific(errorKey, copy)
    free(old)
    return code.rawValue
}

@discardableResult
private func fail(_ e: SwiftRNNError) -> Int32 { fail(e.code, e.message) }

/// Runs `body`, mapping a thrown SwiftRNNError to its status.
private func guarded(_ body: () throws(SwiftRNNError) -> Void) -> Int32 {
    do {
        try body()
        return OK
    } catch {
        return fail(error)
    }
}

/// A `size_t` from C: Swift sees one above `Int.max` (2^63 - 1) as negative. No real buffer is
/// that large, so it is INVALID_ARGUMENT (`n - 1` at `n = 0` is the usual way to make one).
private func size(_ n: Int, _ name: String) throws(SwiftRNNError) -> Int {
    guard n >= 0 else {
        throw .invalid("\(name) is \(UInt(bitPattern: n)), more than any buffer can hold (the limit is \(Int.max))")
    }
    return n
}

private func text(_ p: UnsafePointer<CChar>, _ n: Int, _ name: String = "text_len") throws(SwiftRNNError) -> String {
    String(decoding: UnsafeRawBufferPointer(start: p, count: try size(n, name)), as: UTF8.self)
}

/// Scoring a text of `n` bytes peaks at about 6x (prose) to 14x (emoticons only) its size
/// above the model (docs/bad-input.md). Swift aborts when an allocation fails, so before a large
/// text is touched, a trial reservation of 16x checks that the address space exists: without it the call
/// returns OUT_OF_MEMORY instead of starting. `copies`: texts worked on at once (batch threads).
private func ensureRoom(textBytes n: Int, copies: Int = 1, extra: Int = 0) throws(SwiftRNNError) {
    let (a, o1) = n.multipliedReportingOverflow(by: 16)
    let (b, o2) = a.multipliedReportingOverflow(by: max(1, copies))
    let (need, o3) = b.addingReportingOverflow(extra)
    guard need > 1 << 24 else { return }
    // A reservation of address space (not malloc + free, which the optimiser removes as dead).
    let p = o1 || o2 || o3 ? MAP_FAILED : mmap(nil, need, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    guard let p, p != MAP_FAILED else {
        throw .init(.outOfMemory, "not enough memory for a text of \(n) bytes (about \(need >> 20) MiB needed)")
    }
    munmap(p, need)
}

private func nullArgument(_ name: String) -> SwiftRNNError { .init(.invalidArgument, "\(name) is NULL") }

/// A caller's ABI struct (`swiftrnn_sample_params` ...) of which only the first `size` bytes
/// exist: a program built against an older header passes a smaller struct. Fields are read and
/// written by name through the layout of include/swiftrnn.h (imported as SwiftRNNABI), and only
/// when they lie within those bytes; a field that does not is absent (its default applies).
private struct Sized<S> {
    let base: UnsafeMutableRawPointer
    let size: Int

    init(_ p: UnsafeRawPointer, size: Int) { base = UnsafeMutableRawPointer(mutating: p); self.size = size }

    /// `struct_size` (the first field of every such struct) as the caller set it.
    static func declaredSize(_ p: UnsafeRawPointer) -> Int { p.load(as: Int.self) }

    private func offset<T>(_ field: PartialKeyPath<S>, _: T.Type) -> Int? {
        guard let o = MemoryLayout<S>.offset(of: field), o + MemoryLayout<T>.size <= size else { return nil }
        return o
    }

    subscript<T: BitwiseCopyable>(_ field: KeyPath<S, T>) -> T? {
        offset(field, T.self).map { base.loadUnaligned(fromByteOffset: $0, as: T.self) }
    }

    func set<T: BitwiseCopyable>(_ field: KeyPath<S, T>, _ value: T) {
        if let o = offset(field, T.self) { base.storeBytes(of: value, toByteOffset: o, as: T.self) }
    }
}

// MARK: - Handles

/// What a `swiftrnn_model *` points to.
final class ModelHandle {
    let model: Model
    let describe: UnsafeMutablePointer<CChar>
    init(_ model: Model) {
        self.model = model
        describe = strdup(model.summary)
    }
    deinit { free(describe) }
}

/// What a `swiftrnn_generator *` points to; it holds its model alive.
final class GeneratorHandle {
    let owner: ModelHandle
    var generator: Generator
    /// A stop string ended generation: `next` gives nothing until a feed or a load.
    var stopped = false
    /// The model's `stateFingerprint()`, computed at the first save or load.
    var fingerprint: UInt64?
    init(owner: ModelHandle, generator: Generator) { self.owner = owner; self.generator = generator }

    func modelFingerprint() -> UInt64 {
        if let f = fingerprint { return f }
        let f = generator.model.stateFingerprint()
        fingerprint = f
        return f
    }
}

private func generatorHandle(_ p: OpaquePointer?) throws(SwiftRNNError) -> GeneratorHandle {
    guard let p else { throw nullArgument("generator") }
    return Unmanaged<GeneratorHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}

private func modelHandle(_ p: OpaquePointer?) throws(SwiftRNNError) -> ModelHandle {
    guard let p else { throw nullArgument("model") }
    return Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}

private func sentiment(_ p: OpaquePointer?) throws(SwiftRNNError) -> SentimentModel {
    let h = try modelHandle(p)
    guard case let .sentiment(m) = h.model else {
        throw .init(.wrongKind, "this is a \(h.model.config.kind.rawValue) model; the call needs a sentiment model")
    }
    return m
}

private func charlm(_ p: OpaquePointer?) throws(SwiftRNNError) -> (ModelHandle, CharLanguageModel) {
    let h = try modelHandle(p)
    guard case let .charlm(m) = h.model else {
        throw .init(.wrongKind, "this is a \(h.model.config.kind.rawValue) model; the call needs a charlm model")
    }
    return (h, m)
}

// MARK: - Version and errors

private let versionString = strdup(SwiftRNNVersion.string)!

@_cdecl("swiftrnn_version")
public func swiftrnn_version() -> UnsafePointer<CChar> { UnsafePointer(versionString) }

@_cdecl("swiftrnn_version_number")
public func swiftrnn_version_number() -> Int32 { SwiftRNNVersion.number }

private let statusNames: [UnsafeMutablePointer<CChar>] = ([
    "SWIFTRNN_OK", "SWIFTRNN_ERR_INVALID_ARGUMENT", "SWIFTRNN_ERR_IO", "SWIFTRNN_ERR_FORMAT",
    "SWIFTRNN_ERR_UNSUPPORTED", "SWIFTRNN_ERR_WRONG_KIND", "SWIFTRNN_ERR_BUFFER_TOO_SMALL",
    "SWIFTRNN_ERR_OUT_OF_MEMORY", "SWIFTRNN_ERR_INTERNAL", "SWIFTRNN_ERR_NON_FINITE", "SWIFTRNN_ERR_CANCELLED",
    "unknown status",
] as [String]).map { strdup($0)! }

@_cdecl("swiftrnn_status_string")
public func swiftrnn_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    let k = status >= 0 && Int(status) < statusNames.count - 1 ? Int(status) : statusNames.count - 1
    return UnsafePointer(statusNames[k])
}

private let emptyString = strdup("")!

@_cdecl("swiftrnn_last_error")
public func swiftrnn_last_error() -> UnsafePointer<CChar> {
    if let p = pthread_getspecific(errorKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    return UnsafePointer(emptyString)
}

// MARK: - Models

private func publish(_ model: Model, _ out: UnsafeMutablePointer<OpaquePointer?>) {
    out.pointee = OpaquePointer(Unmanaged.passRetained(ModelHandle(model)).toOpaque())
}

@_cdecl("swiftrnn_model_load")
public func swiftrnn_model_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(nullArgument("out_model")) }
    out.pointee = nil
    guard let path else { return fail(nullArgument("path")) }
    return guarded { () throws(SwiftRNNError) in publish(try Model.load(path: String(cString: path)), out) }
}

@_cdecl("swiftrnn_model_load_from_memory")
public func swiftrnn_model_load_from_memory(_ data: UnsafeRawPointer?, _ size: Int,
                                            _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(nullArgument("out_model")) }
    out.pointee = nil
    guard let data else { return fail(nullArgument("data")) }
    return guarded { () throws(SwiftRNNError) in
        publish(try Model.load(bytes: UnsafeRawBufferPointer(start: data, count: try CSwiftRNN.size(size, "size"))), out)
    }
}

@_cdecl("swiftrnn_model_free")
public func swiftrnn_model_free(_ model: OpaquePointer?) {
    guard let model else { return }
    Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(model)).release()
}

@_cdecl("swiftrnn_model_get_info")
public func swiftrnn_model_get_info(_ model: OpaquePointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    guard let info else { return fail(nullArgument("info")) }
    return guarded { () throws(SwiftRNNError) in
        let h = try modelHandle(model)
        let i = Sized<swiftrnn_model_info>(info, size: Sized<swiftrnn_model_info>.declaredSize(info))
        guard i[\.kind] != nil else {
            throw .init(.invalidArgument, "info->struct_size is \(i.size); set it to sizeof(swiftrnn_model_info)")
        }
        let c = h.model.config
        let kinds: [ModelKind: swiftrnn_kind] = [.sentiment: SWIFTRNN_KIND_SENTIMENT, .charlm: SWIFTRNN_KIND_CHARLM,
                                                 .wordlm: SWIFTRNN_KIND_WORDLM, .classifier: SWIFTRNN_KIND_CLASSIFIER]
        i.set(\.kind, kinds[c.kind]!)
        let cells: [CellKind: swiftrnn_cell] = [.lstm: SWIFTRNN_CELL_LSTM, .gru: SWIFTRNN_CELL_GRU,
                                                .rnnTanh: SWIFTRNN_CELL_RNN_TANH, .rnnRelu: SWIFTRNN_CELL_RNN_RELU,
                                                .jordan: SWIFTRNN_CELL_JORDAN]
        i.set(\.cell, cells[c.cell]!)
        i.set(\.vocab_size, Int32(c.vocabSize))
        i.set(\.embedding_dim, Int32(c.embeddingDim))
        i.set(\.hidden_size, Int32(c.hiddenSize))
        i.set(\.num_layers, Int32(c.numLayers))
        i.set(\.bidirectional, c.bidirectional ? 1 : 0)
        i.set(\.head_layers, Int32(c.head.count))
        i.set(\.n_parameters, UInt64(h.model.weights.parameterCount))
        let w = h.model.weights
        i.set(\.precision, !w.int8Scales.isEmpty ? SWIFTRNN_PRECISION_INT8
              : w.halfKind == .f16 ? SWIFTRNN_PRECISION_F16 : w.halfKind == .bf16 ? SWIFTRNN_PRECISION_BF16
              : SWIFTRNN_PRECISION_F32)
    }
}

@_cdecl("swiftrnn_model_describe")
public func swiftrnn_model_describe(_ model: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let h = try? modelHandle(model) else { return nil }
    return UnsafePointer(h.describe)
}

@_cdecl("swiftrnn_encode")
public func swiftrnn_encode(_ model: OpaquePointer?, _ textPtr: UnsafePointer<CChar>?, _ len: Int,
                            _ outIds: UnsafeMutablePointer<Int32>?, _ capacity: Int,
                            _ outCount: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let textPtr else { return fail(nullArgument("text")) }
    guard let outCount else { return fail(nullArgument("out_count")) }
    return guarded { () throws(SwiftRNNError) in
        let h = try modelHandle(model)
        let s = try text(textPtr, len)
        let capacity = try size(capacity, "capacity")
        let ids: [Int32]
        switch h.model {
        case let .sentiment(m): ids = m.encode(s)
        case let .classifier(m): ids = m.encode(s)
        case let .charlm(m): ids = try m.table.encode(s)
        case let .wordlm(m): ids = m.vocabulary.encode(s)
        }
        outCount.pointee = ids.count
        guard ids.count <= capacity else {
            throw .init(.bufferTooSmall, "\(ids.count) ids do not fit in a capacity of \(capacity)")
        }
        if !ids.isEmpty {
            guard let outIds else { throw nullArgument("out_ids") }
            ids.withUnsafeBufferPointer { outIds.update(from: $0.baseAddress!, count: ids.count) }
        }
    }
}

/// Copies `bytes` plus a NUL into a caller's buffer, or reports the size needed.
private func deliver(_ bytes: [UInt8], _ out: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                     _ outLen: UnsafeMutablePointer<Int>) throws(SwiftRNNError) {
    outLen.pointee = bytes.count
    guard try size(capacity, "out_capacity") > bytes.count else {
        throw .init(.bufferTooSmall, "\(bytes.count + 1) bytes needed (with the NUL), capacity is \(capacity)")
    }
    guard let out else { throw nullArgument("out") }
    bytes.withUnsafeBytes { UnsafeMutableRawPointer(out).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    out[bytes.count] = 0
}

@_cdecl("swiftrnn_tokenize")
public func swiftrnn_tokenize(_ textPtr: UnsafePointer<CChar>?, _ len: Int, _ out: UnsafeMutablePointer<CChar>?,
                              _ capacity: Int, _ outLen: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let textPtr else { return fail(nullArgument("text")) }
    guard let outLen else { return fail(nullArgument("out_len")) }
    return guarded { () throws(SwiftRNNError) in
        var bytes: [UInt8] = []
        _ = try size(capacity, "out_capacity")
        Tokenizer.forEachToken(try text(textPtr, len)) { bytes.append(contentsOf: $0); bytes.append(0x0A) }
        try deliver(bytes, out, capacity, outLen)
    }
}

// MARK: - Sentiment

@_cdecl("swiftrnn_score_sentiment")
public func swiftrnn_score_sentiment(_ model: OpaquePointer?, _ textPtr: UnsafePointer<CChar>?, _ len: Int,
                                     _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    guard let textPtr else { return fail(nullArgument("text")) }
    guard let out else { return fail(nullArgument("out_probability")) }
    return guarded { () throws(SwiftRNNError) in
        let m = try sentiment(model)
        try ensureRoom(textBytes: try size(len, "text_len"))
        let p = m.score(try text(textPtr, len))
        guard p.isFinite else { throw .nonFinite("for this text (probability \(p))") }
        out.pointee = p
    }
}

/// `swiftrnn_progress_fn`, as the header declares it.
typealias ProgressFn = @convention(c) (UnsafeMutableRawPointer?, Int, Int) -> Int32

/// A monitor that calls the C callback (nil: none).
private func swiftrnnMonitor(_ fn: ProgressFn?, _ user: UnsafeMutableRawPointer?, total: Int) -> ProgressMonitor? {
    guard let fn else { return nil }
    return ProgressMonitor(total: total) { done, total in fn(user, done, total) != 0 }
}

@_cdecl("swiftrnn_score_sentiment_batch")
public func swiftrnn_score_sentiment_batch(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?,
                                           _ lens: UnsafePointer<Int>?, _ count: Int, _ threads: Int32,
                                           _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    scoreBatch(model, texts, lens, count, threads, nil, nil, out)
}

@_cdecl("swiftrnn_batch_params_init_sized")
public func swiftrnn_batch_params_init_sized(_ p: UnsafeMutableRawPointer?, _ size: Int) {
    guard let p, size >= MemoryLayout<Int>.size else { return }
    // Only the bytes of the caller's struct: an older header's struct is smaller.
    let n = min(size, MemoryLayout<swiftrnn_batch_params>.size)
    memset(p, 0, n)
    let b = Sized<swiftrnn_batch_params>(p, size: n)
    b.set(\.struct_size, n)
    b.set(\.n_threads, 0)
}

@_cdecl("swiftrnn_batch_params_init")
public func swiftrnn_batch_params_init(_ p: UnsafeMutableRawPointer?) {
    swiftrnn_batch_params_init_sized(p, MemoryLayout<swiftrnn_batch_params>.size)
}

@_cdecl("swiftrnn_score_sentiment_batch_ex")
public func swiftrnn_score_sentiment_batch_ex(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?,
                                              _ lens: UnsafePointer<Int>?, _ count: Int, _ params: UnsafeRawPointer?,
                                              _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    let p: BatchParams
    do { p = try batchParams(params) } catch { return fail(error) }
    return scoreBatch(model, texts, lens, count, p.threads, p.progress, p.user, out)
}

/// What a `swiftrnn_batch_params` holds (NULL: the defaults).
private struct BatchParams {
    var threads: Int32 = 0
    var progress: ProgressFn? = nil
    var user: UnsafeMutableRawPointer? = nil

    /// The monitor of the call's `total` texts (nil without a callback).
    func monitor(total: Int) -> ProgressMonitor? { swiftrnnMonitor(progress, user, total: total) }
}

private func batchParams(_ params: UnsafeRawPointer?) throws(SwiftRNNError) -> BatchParams {
    var p = BatchParams()
    guard let params else { return p }
    let b = Sized<swiftrnn_batch_params>(params, size: Sized<swiftrnn_batch_params>.declaredSize(params))
    guard b[\.struct_size] != nil else {
        throw .invalid("params->struct_size is \(b.size); call swiftrnn_batch_params_init first")
    }
    p.threads = b[\.n_threads] ?? 0
    p.progress = b[\.progress] ?? nil
    p.user = b[\.progress_user_data] ?? nil
    return p
}

/// Runs a monitored batch and turns a stop asked by the callback into CANCELLED.
private func monitored<R>(_ mon: ProgressMonitor?, _ body: (ProgressMonitor?) throws(SwiftRNNError) -> R) throws(SwiftRNNError) -> R {
    let r = try body(mon)
    if let mon { mon.poll(force: true); try mon.check() }
    return r
}

private func scoreBatch(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?,
                        _ lens: UnsafePointer<Int>?, _ count: Int, _ threads: Int32,
                        _ progress: ProgressFn?, _ user: UnsafeMutableRawPointer?,
                        _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    return guarded { () throws(SwiftRNNError) in
        let m = try sentiment(model)
        let count = try size(count, "count")
        guard count > 0 else { return }
        guard texts != nil else { throw nullArgument("texts") }
        guard lens != nil else { throw nullArgument("text_lens") }
        guard let out else { throw nullArgument("out_probabilities") }
        let strings = try batchTexts(texts, lens, count, threads)
        let probs: [Float]
        if let mon = swiftrnnMonitor(progress, user, total: count) {
            probs = try m.scoreBatch(strings, threads: Int(threads), monitor: mon)
        } else {
            probs = m.scoreBatch(strings, threads: Int(threads))
        }
        probs.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: count) }
        // Every probability is written; the finite ones are good. Say which were not.
        if let first = probs.firstIndex(where: { !$0.isFinite }) {
            let n = probs.lazy.filter { !$0.isFinite }.count
            throw .nonFinite("for \(n) of \(count) texts (the first is texts[\(first)]; their probabilities are NaN, the others are valid)")
        }
    }
}

// MARK: - Character models

/// Reads a caller's `swiftrnn_sample_params` (NULL: defaults), honouring its struct_size.
private func sampleParams(_ p: UnsafeRawPointer?) throws(SwiftRNNError) -> SamplingParameters {
    try sampleParamsAndProgress(p).parameters
}

/// The params and, when the struct has them, the progress callback and its user data.
private func sampleParamsAndProgress(_ p: UnsafeRawPointer?) throws(SwiftRNNError)
    -> (parameters: SamplingParameters, progress: ProgressFn?, user: UnsafeMutableRawPointer?) {
    var s = SamplingParameters()
    guard let p else { return (s, nil, nil) }
    let c = Sized<swiftrnn_sample_params>(p, size: Sized<swiftrnn_sample_params>.declaredSize(p))
    guard c[\.struct_size] != nil else {
        throw .init(.invalidArgument, "params->struct_size is \(c.size); call swiftrnn_sample_params_init first")
    }
    // Missing fields keep SamplingParameters' defaults, which are the header's. The values are
    // validated once, by the Generator that uses them.
    s.scaleFactor = c[\.scale_factor] ?? s.scaleFactor
    s.topK = (c[\.top_k]).map { Int($0) } ?? s.topK
    s.topP = c[\.top_p] ?? s.topP
    s.greedy = (c[\.greedy]).map { $0 != 0 } ?? s.greedy
    s.seed = c[\.seed] ?? s.seed
    s.threads = (c[\.n_threads]).map { Int($0) } ?? s.threads
    // The sampling controls (experimental): absent in an older, smaller struct.
    let nStops = try size(c[\.n_stop_strings] ?? 0, "n_stop_strings")
    if nStops > 0 {
        guard nStops <= SamplingParameters.maxStopStrings else {
            throw .invalid("n_stop_strings is \(nStops); at most \(SamplingParameters.maxStopStrings)")
        }
        guard let list = c[\.stop_strings] ?? nil else { throw .invalid("stop_strings is NULL but n_stop_strings is \(nStops)") }
        s.stopStrings = []
        for k in 0..<nStops {
            guard let t = list[k] else { throw .invalid("stop_strings[\(k)] is NULL") }
            // Bounded scan: a stop string longer than the limit is refused without reading on.
            let limit = 4 * SamplingParameters.maxStopLength + 1
            let n = strnlen(t, limit)
            guard n < limit else { throw .invalid("stop_strings[\(k)] is longer than \(SamplingParameters.maxStopLength) characters") }
            s.stopStrings.append(String(decoding: UnsafeRawBufferPointer(start: t, count: n), as: UTF8.self))
        }
    }
    s.repetitionPenalty = c[\.repetition_penalty] ?? s.repetitionPenalty
    s.repetitionWindow = (c[\.repetition_window]).map { Int($0) } ?? s.repetitionWindow
    s.minP = c[\.min_p] ?? s.minP
    let bannedLen = try size(c[\.banned_len] ?? 0, "banned_len")
    if bannedLen > 0 {
        guard let b = c[\.banned] ?? nil else { throw .invalid("banned is NULL but banned_len is \(bannedLen)") }
        s.banned = try text(b, bannedLen, "banned_len")
    }
    return (s, c[\.progress] ?? nil, c[\.progress_user_data] ?? nil)
}


@_cdecl("swiftrnn_sample_params_init_sized")
public func swiftrnn_sample_params_init_sized(_ p: UnsafeMutableRawPointer?, _ size: Int) {
    guard let p, size >= MemoryLayout<Int>.size else { return }
    // Only the fields that fit in the caller's struct: an older header's struct is smaller.
    let n = min(size, MemoryLayout<swiftrnn_sample_params>.size)
    memset(p, 0, n)   // padding and pointers included
    let d = SamplingParameters()
    let c = Sized<swiftrnn_sample_params>(p, size: n)
    c.set(\.struct_size, n)
    c.set(\.scale_factor, d.scaleFactor)
    c.set(\.top_k, Int32(d.topK))
    c.set(\.top_p, d.topP)
    c.set(\.greedy, d.greedy ? 1 : 0)
    c.set(\.seed, d.seed)
    c.set(\.n_threads, Int32(d.threads))
    c.set(\.repetition_penalty, d.repetitionPenalty)
    c.set(\.repetition_window, Int32(d.repetitionWindow))
    c.set(\.min_p, d.minP)
}

/// The header makes `swiftrnn_sample_params_init` a macro over the sized form; this symbol is
/// for FFI users (ctypes) whose struct is this version's.
@_cdecl("swiftrnn_sample_params_init")
public func swiftrnn_sample_params_init(_ p: UnsafeMutableRawPointer?) {
    swiftrnn_sample_params_init_sized(p, MemoryLayout<swiftrnn_sample_params>.size)
}

@_cdecl("swiftrnn_sample_text")
public func swiftrnn_sample_text(_ model: OpaquePointer?, _ primePtr: UnsafePointer<CChar>?, _ primeLen: Int,
                                 _ nChars: Int, _ params: UnsafeRawPointer?, _ out: UnsafeMutablePointer<CChar>?,
                                 _ capacity: Int, _ outLen: UnsafeMutablePointer<Int>?) -> Int32 {
    var stop: Int32 = -1
    return sampleText(model, primePtr, primeLen, nChars, params, out, capacity, outLen, &stop)
}

@_cdecl("swiftrnn_sample_text_ex")
public func swiftrnn_sample_text_ex(_ model: OpaquePointer?, _ primePtr: UnsafePointer<CChar>?, _ primeLen: Int,
                                    _ nChars: Int, _ params: UnsafeRawPointer?, _ out: UnsafeMutablePointer<CChar>?,
                                    _ capacity: Int, _ outLen: UnsafeMutablePointer<Int>?,
                                    _ outStop: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let outStop else { return fail(nullArgument("out_stop_index")) }
    return sampleText(model, primePtr, primeLen, nChars, params, out, capacity, outLen, outStop)
}

private func sampleText(_ model: OpaquePointer?, _ primePtr: UnsafePointer<CChar>?, _ primeLen: Int,
                        _ nChars: Int, _ params: UnsafeRawPointer?, _ out: UnsafeMutablePointer<CChar>?,
                        _ capacity: Int, _ outLen: UnsafeMutablePointer<Int>?,
                        _ outStop: UnsafeMutablePointer<Int32>) -> Int32 {
    guard let primePtr else { return fail(nullArgument("prime")) }
    guard let outLen else { return fail(nullArgument("out_len")) }
    return guarded { () throws(SwiftRNNError) in
        let (_, m) = try charlm(model)
        let (parameters, progress, user) = try sampleParamsAndProgress(params)
        let primeLen = try size(primeLen, "prime_len"), nChars = try size(nChars, "n_chars")
        let capacity = try size(capacity, "out_capacity")
        let team = Generator.makeTeam(for: m, parameters: parameters)
        defer { team?.stop() }
        var g = try Generator(model: m, prime: text(primePtr, primeLen, "prime_len"), parameters: parameters, team: team)
        // The most bytes the text can take; when even its minimum (1 byte per character)
        // cannot fit, report this bound at once instead of generating to measure.
        let (grown, o1) = nChars.multipliedReportingOverflow(by: m.table.maxUTF8Length)
        let (bound, o2) = grown.addingReportingOverflow(primeLen)
        guard !o1, !o2 else { throw .init(.invalidArgument, "n_chars \(nChars) is too large") }
        if out == nil, capacity > 0 { throw nullArgument("out") }
        if capacity <= primeLen + nChars {
            outLen.pointee = bound
            throw .init(.bufferTooSmall, "up to \(bound + 1) bytes needed (with the NUL), capacity is \(capacity)")
        }
        // Generate into our own buffer (bounded by the caller's capacity) so a too-small buffer
        // is left untouched; past the capacity only count the bytes.
        var text = [UInt8](UnsafeRawBufferPointer(start: primePtr, count: primeLen))
        text.reserveCapacity(min(capacity, bound + 1))
        var needed = primeLen
        let mon = swiftrnnMonitor(progress, user, total: nChars)
        for k in 0..<nChars {
            if k & 31 == 31, let mon {
                mon.advance(by: 32)
                mon.poll()
                try mon.check()
            }
            let enc = UTF8.encode(try g.next())!
            if needed + enc.count < capacity { text.append(contentsOf: enc) }
            needed += enc.count
            if g.stopIndex != nil { break }
        }
        outLen.pointee = needed
        outStop.pointee = Int32(g.stopIndex ?? -1)
        guard needed < capacity else {
            throw .init(.bufferTooSmall, "\(needed + 1) bytes needed (with the NUL), capacity is \(capacity)")
        }
        try deliver(text, out, capacity, outLen)
    }
}

@_cdecl("swiftrnn_generator_create")
public func swiftrnn_generator_create(_ model: OpaquePointer?, _ primePtr: UnsafePointer<CChar>?, _ primeLen: Int,
                                      _ params: UnsafeRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guard let out else { return fail(nullArgument("out_generator")) }
    out.pointee = nil
    guard let primePtr else { return fail(nullArgument("prime")) }
    return guarded { () throws(SwiftRNNError) in
        let (h, m) = try charlm(model)
        let g = try Generator(model: m, prime: text(primePtr, primeLen, "prime_len"), parameters: try sampleParams(params))
        out.pointee = OpaquePointer(Unmanaged.passRetained(GeneratorHandle(owner: h, generator: g)).toOpaque())
    }
}

@_cdecl("swiftrnn_generator_next")
public func swiftrnn_generator_next(_ gen: OpaquePointer?, _ out: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                    _ outLen: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let gen else { return fail(nullArgument("generator")) }
    guard let out else { return fail(nullArgument("out")) }
    guard let outLen else { return fail(nullArgument("out_len")) }
    let h = Unmanaged<GeneratorHandle>.fromOpaque(UnsafeRawPointer(gen)).takeUnretainedValue()
    // Draw only when any character fits, so a too-small buffer loses nothing.
    let need = h.generator.model.table.maxUTF8Length
    guard capacity >= 0 else { return fail(.invalid("out_capacity is \(UInt(bitPattern: capacity)), more than any buffer can hold")) }
    guard capacity > need else {
        outLen.pointee = need
        return fail(.bufferTooSmall, "a character may need \(need + 1) bytes (with the NUL), capacity is \(capacity)")
    }
    if h.stopped {   // a stop string ended generation: nothing until the next feed
        out[0] = 0
        outLen.pointee = 0
        return OK
    }
    let c: Unicode.Scalar
    do { c = try h.generator.next() } catch { return fail(error) }
    h.stopped = h.generator.stopIndex != nil
    let enc = UTF8.encode(c)!
    for (k, b) in enc.enumerated() { out[k] = CChar(bitPattern: b) }
    out[enc.count] = 0
    outLen.pointee = enc.count
    return OK
}

@_cdecl("swiftrnn_model_character")
public func swiftrnn_model_character(_ model: OpaquePointer?, _ index: Int32, _ out: UnsafeMutablePointer<CChar>?,
                                     _ capacity: Int, _ outLen: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let outLen else { return fail(nullArgument("out_len")) }
    return guarded { () throws(SwiftRNNError) in
        let (_, m) = try charlm(model)
        let n = m.table.count
        guard index >= 0, Int(index) < n else { throw .invalid("index \(index) is outside the table's 0 ..< \(n)") }
        try deliver(Array(String(m.table.characters[Int(index)]).utf8), out, capacity, outLen)
    }
}

@_cdecl("swiftrnn_generator_feed")
public func swiftrnn_generator_feed(_ gen: OpaquePointer?, _ textPtr: UnsafePointer<CChar>?, _ len: Int) -> Int32 {
    guard let textPtr else { return fail(nullArgument("text")) }
    return guarded { () throws(SwiftRNNError) in
        let h = try generatorHandle(gen)
        try h.generator.feed(try text(textPtr, len))
        if len > 0 { h.stopped = false }
    }
}

@_cdecl("swiftrnn_generator_stop_index")
public func swiftrnn_generator_stop_index(_ gen: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let out else { return fail(nullArgument("out_index")) }
    return guarded { () throws(SwiftRNNError) in
        let h = try generatorHandle(gen)
        out.pointee = h.stopped ? Int32(h.generator.stopIndex ?? -1) : -1
    }
}

@_cdecl("swiftrnn_generator_logits")
public func swiftrnn_generator_logits(_ gen: OpaquePointer?, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                      _ outCount: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let outCount else { return fail(nullArgument("out_count")) }
    return guarded { () throws(SwiftRNNError) in
        let h = try generatorHandle(gen)
        let capacity = try size(capacity, "capacity")
        let n = h.generator.model.table.count
        outCount.pointee = n
        guard capacity >= n else { throw .init(.bufferTooSmall, "\(n) logits do not fit in a capacity of \(capacity)") }
        guard let out else { throw nullArgument("out") }
        let v = try h.generator.logits()
        v.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: n) }
    }
}

@_cdecl("swiftrnn_generator_save_state")
public func swiftrnn_generator_save_state(_ gen: OpaquePointer?, _ out: UnsafeMutableRawPointer?, _ capacity: Int,
                                          _ outLen: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let outLen else { return fail(nullArgument("out_len")) }
    return guarded { () throws(SwiftRNNError) in
        let h = try generatorHandle(gen)
        let capacity = try size(capacity, "capacity")
        let bytes = h.generator.saveState(fingerprint: h.modelFingerprint())
        outLen.pointee = bytes.count
        guard capacity >= bytes.count else {
            throw .init(.bufferTooSmall, "the state needs \(bytes.count) bytes, capacity is \(capacity)")
        }
        guard let out else { throw nullArgument("buf") }
        bytes.withUnsafeBytes { out.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }
}

@_cdecl("swiftrnn_generator_load_state")
public func swiftrnn_generator_load_state(_ gen: OpaquePointer?, _ data: UnsafeRawPointer?, _ len: Int) -> Int32 {
    guard let data else { return fail(nullArgument("buf")) }
    return guarded { () throws(SwiftRNNError) in
        let h = try generatorHandle(gen)
        let len = try size(len, "len")
        try h.generator.loadState(UnsafeRawBufferPointer(start: data, count: len), fingerprint: h.modelFingerprint())
        h.stopped = h.generator.stopIndex != nil
    }
}

@_cdecl("swiftrnn_generator_free")
public func swiftrnn_generator_free(_ gen: OpaquePointer?) {
    guard let gen else { return }
    Unmanaged<GeneratorHandle>.fromOpaque(UnsafeRawPointer(gen)).release()
}

@_cdecl("swiftrnn_log_likelihood")
public func swiftrnn_log_likelihood(_ model: OpaquePointer?, _ textPtr: UnsafePointer<CChar>?, _ len: Int,
                                    _ outNats: UnsafeMutablePointer<Double>?, _ outPredicted: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let textPtr else { return fail(nullArgument("text")) }
    guard let outNats else { return fail(nullArgument("out_nats")) }
    guard let outPredicted else { return fail(nullArgument("out_predicted")) }
    return guarded { () throws(SwiftRNNError) in
        let (_, m) = try charlm(model)
        let r = try m.negativeLogLikelihood(text(textPtr, len))
        guard r.nats.isFinite else { throw .nonFinite("for this text (nats \(r.nats))") }
        outNats.pointee = r.nats
        outPredicted.pointee = r.predicted
    }
}

// MARK: - Classifiers and features (experimental)

/// A sentiment or classifier model as a classifier: its labels, whether multi-label, and its
/// one-text and batch classification (a sentiment model: the one label "positive").
private struct AnyClassifier {
    let labels: [String]
    let multiLabel: Bool
    let one: (String) -> [Float]
    let batch: ([String], Int, ProgressMonitor?) -> [Float]
}

private func classifier(_ p: OpaquePointer?) throws(SwiftRNNError) -> AnyClassifier {
    let h = try modelHandle(p)
    switch h.model {
    case let .classifier(m):
        return AnyClassifier(labels: m.labels, multiLabel: m.multiLabel, one: { m.classify($0) },
                             batch: { m.classifyBatch($0, threads: $1, monitor: $2) })
    case let .sentiment(m):
        return AnyClassifier(labels: ["positive"], multiLabel: true, one: { [m.score($0)] },
                             batch: { texts, threads, mon in
                                 guard let mon else { return m.scoreBatch(texts, threads: threads) }
                                 return (try? m.scoreBatch(texts, threads: threads, monitor: mon)) ?? []
                             })
    case .charlm, .wordlm:
        throw .init(.wrongKind, "this is a \(h.model.config.kind.rawValue) model; the call needs a classifier or sentiment model")
    }
}

/// The texts of a batch call, checked as score_sentiment_batch checks them.
private func batchTexts(_ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?, _ count: Int,
                        _ threads: Int32) throws(SwiftRNNError) -> [String] {
    guard count > 0 else { return [] }
    guard let texts else { throw nullArgument("texts") }
    guard let lens else { throw nullArgument("text_lens") }
    guard threads >= 0 else { throw .init(.invalidArgument, "n_threads is \(threads); use 0 for all cores") }
    var total = 0, longest = 0
    for i in 0..<count {
        let n = try size(lens[i], "text_lens[\(i)]")
        total = total &+ n
        longest = max(longest, n)
    }
    try ensureRoom(textBytes: longest, copies: min(Parallel.cores, threads == 0 ? Parallel.cores : Int(threads)),
                   extra: total < 0 || total > Int.max / 4 ? Int.max : 2 * total)
    var strings: [String] = []
    strings.reserveCapacity(count)
    for i in 0..<count {
        if let p = texts[i] {
            strings.append(try text(p, lens[i], "text_lens[\(i)]"))
        } else {
            guard lens[i] == 0 else { throw .init(.invalidArgument, "texts[\(i)] is NULL but text_lens[\(i)] is \(lens[i])") }
            strings.append("")
        }
    }
    return strings
}

/// Checks that `rows * width` floats fit in `capacity`, with `*outWidth = width` set first.
private func checkRoom(rows: Int, width: Int, capacity: Int, _ outWidth: UnsafeMutablePointer<Int>,
                       _ what: String) throws(SwiftRNNError) {
    outWidth.pointee = width
    let capacity = try size(capacity, "capacity")
    let (need, o) = rows.multipliedReportingOverflow(by: width)
    guard !o, capacity >= need else {
        throw .init(.bufferTooSmall, "\(rows) x \(width) \(what) do not fit in a capacity of \(capacity)")
    }
}

private func deliverFloats(_ v: [Float], _ out: UnsafeMutablePointer<Float>?, _ name: String, rows: Int,
                           _ what: String) throws(SwiftRNNError) {
    guard !v.isEmpty else { return }
    guard let out else { throw nullArgument(name) }
    v.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: v.count) }
    if let first = v.firstIndex(where: { !$0.isFinite }) {
        let width = v.count / max(1, rows)
        throw .nonFinite(rows == 1 ? "for this text (\(what) \(v[first]))"
                         : "for texts[\(first / max(1, width))] (its \(what) are NaN; rows without NaN are valid)")
    }
}

@_cdecl("swiftrnn_classify")
public func swiftrnn_classify(_ model: OpaquePointer?, _ textPtr: UnsafePointer<CChar>?, _ len: Int,
                              _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                              _ outN: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let textPtr else { return fail(nullArgument("text")) }
    guard let outN else { return fail(nullArgument("out_n_labels")) }
    return guarded { () throws(SwiftRNNError) in
        let c = try classifier(model)
        try checkRoom(rows: 1, width: c.labels.count, capacity: capacity, outN, "probabilities")
        guard out != nil else { throw nullArgument("out_probabilities") }
        try ensureRoom(textBytes: try size(len, "text_len"))
        try deliverFloats(c.one(try text(textPtr, len)), out, "out_probabilities", rows: 1, "probabilities")
    }
}

@_cdecl("swiftrnn_classify_batch")
public func swiftrnn_classify_batch(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?,
                                    _ lens: UnsafePointer<Int>?, _ count: Int, _ threads: Int32,
                                    _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                    _ outN: UnsafeMutablePointer<Int>?) -> Int32 {
    classifyBatch(model, texts, lens, count, BatchParams(threads: threads), out, capacity, outN)
}

@_cdecl("swiftrnn_classify_batch_ex")
public func swiftrnn_classify_batch_ex(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?,
                                       _ lens: UnsafePointer<Int>?, _ count: Int, _ params: UnsafeRawPointer?,
                                       _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                       _ outN: UnsafeMutablePointer<Int>?) -> Int32 {
    let p: BatchParams
    do { p = try batchParams(params) } catch { return fail(error) }
    return classifyBatch(model, texts, lens, count, p, out, capacity, outN)
}

private func classifyBatch(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?,
                           _ lens: UnsafePointer<Int>?, _ count: Int, _ p: BatchParams,
                           _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                           _ outN: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let outN else { return fail(nullArgument("out_n_labels")) }
    return guarded { () throws(SwiftRNNError) in
        let c = try classifier(model)
        try batchRows(texts, lens, count, p, out, capacity, outN, width: c.labels.count, "out_probabilities",
                      "probabilities") { strings, threads, mon throws(SwiftRNNError) in c.batch(strings, threads, mon) }
    }
}

/// The shared part of the classify and embed batches, once the model is known: checks the
/// count, the room (`width` floats per text) and the pointers, then runs `rows` over the texts
/// under the params' monitor and delivers the floats.
private func batchRows(_ texts: UnsafePointer<UnsafePointer<CChar>?>?, _ lens: UnsafePointer<Int>?, _ count: Int,
                       _ p: BatchParams, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                       _ outN: UnsafeMutablePointer<Int>, width: Int, _ outName: String, _ what: String,
                       _ rows: ([String], Int, ProgressMonitor?) throws(SwiftRNNError) -> [Float]) throws(SwiftRNNError) {
    let count = try size(count, "count")
    try checkRoom(rows: count, width: width, capacity: capacity, outN, what)
    guard count > 0 else { return }
    guard out != nil else { throw nullArgument(outName) }
    let strings = try batchTexts(texts, lens, count, p.threads)
    let result = try monitored(p.monitor(total: count)) { mon throws(SwiftRNNError) in try rows(strings, Int(p.threads), mon) }
    try deliverFloats(result, out, outName, rows: count, what)
}

@_cdecl("swiftrnn_model_label")
public func swiftrnn_model_label(_ model: OpaquePointer?, _ index: Int32, _ out: UnsafeMutablePointer<CChar>?,
                                 _ capacity: Int, _ outLen: UnsafeMutablePointer<Int>?,
                                 _ outN: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let outLen else { return fail(nullArgument("out_len")) }
    return guarded { () throws(SwiftRNNError) in
        let c = try classifier(model)
        let n = c.labels.count
        outN?.pointee = n
        guard index >= 0, Int(index) < n else { throw .invalid("index \(index) is outside the labels' 0 ..< \(n)") }
        try deliver(Array(c.labels[Int(index)].utf8), out, capacity, outLen)
    }
}

@_cdecl("swiftrnn_model_multi_label")
public func swiftrnn_model_multi_label(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let out else { return fail(nullArgument("out_multi_label")) }
    return guarded { () throws(SwiftRNNError) in out.pointee = try classifier(model).multiLabel ? 1 : 0 }
}

@_cdecl("swiftrnn_embed")
public func swiftrnn_embed(_ model: OpaquePointer?, _ textPtr: UnsafePointer<CChar>?, _ len: Int,
                           _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                           _ outN: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let textPtr else { return fail(nullArgument("text")) }
    guard let outN else { return fail(nullArgument("out_n")) }
    return guarded { () throws(SwiftRNNError) in
        let m = try modelHandle(model).model
        switch m { case .charlm, .wordlm: _ = try classifier(model); default: break }   // WRONG_KIND, before any size
        try checkRoom(rows: 1, width: m.config.featureWidth, capacity: capacity, outN, "features")
        guard out != nil else { throw nullArgument("out") }
        try ensureRoom(textBytes: try size(len, "text_len"))
        try deliverFloats(try m.embed(try text(textPtr, len)), out, "out", rows: 1, "features")
    }
}

@_cdecl("swiftrnn_embed_batch")
public func swiftrnn_embed_batch(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?,
                                 _ lens: UnsafePointer<Int>?, _ count: Int, _ threads: Int32,
                                 _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                 _ outN: UnsafeMutablePointer<Int>?) -> Int32 {
    embedBatch(model, texts, lens, count, BatchParams(threads: threads), out, capacity, outN)
}

@_cdecl("swiftrnn_embed_batch_ex")
public func swiftrnn_embed_batch_ex(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?,
                                    _ lens: UnsafePointer<Int>?, _ count: Int, _ params: UnsafeRawPointer?,
                                    _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                    _ outN: UnsafeMutablePointer<Int>?) -> Int32 {
    let p: BatchParams
    do { p = try batchParams(params) } catch { return fail(error) }
    return embedBatch(model, texts, lens, count, p, out, capacity, outN)
}

private func embedBatch(_ model: OpaquePointer?, _ texts: UnsafePointer<UnsafePointer<CChar>?>?,
                        _ lens: UnsafePointer<Int>?, _ count: Int, _ p: BatchParams,
                        _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                        _ outN: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let outN else { return fail(nullArgument("out_n")) }
    return guarded { () throws(SwiftRNNError) in
        let m = try modelHandle(model).model
        switch m { case .charlm, .wordlm: _ = try classifier(model); default: break }
        try batchRows(texts, lens, count, p, out, capacity, outN, width: m.config.featureWidth, "out", "features") {
            strings, threads, mon throws(SwiftRNNError) in try m.embedBatch(strings, threads: threads, monitor: mon)
        }
    }
}
