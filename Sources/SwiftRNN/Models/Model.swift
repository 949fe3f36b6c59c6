/// A loaded model of either kind.
public enum Model: Sendable {
    case sentiment(SentimentModel)
    case charlm(CharLanguageModel)
    case wordlm(WordLanguageModel)
    case classifier(ClassifierModel)

    public var config: ModelConfig {
        switch self {
        case let .sentiment(m): return m.config
        case let .charlm(m): return m.config
        case let .wordlm(m): return m.config
        case let .classifier(m): return m.config
        }
    }

    public var weights: ModelWeights {
        switch self {
        case let .sentiment(m): return m.weights
        case let .charlm(m): return m.weights
        case let .wordlm(m): return m.weights
        case let .classifier(m): return m.weights
        }
    }

    /// The vector the head reads (`featureWidth` floats), for the many-to-one kinds (sentiment,
    /// classifier); NaN values mean the weights overflow on this text.
    /// A character model is WRONG_KIND.
    public func embed(_ text: String) throws(SwiftRNNError) -> [Float] {
        switch self {
        case let .sentiment(m): return m.embeddings(batch: [m.encode(text)]).array
        case let .classifier(m): return m.embeddings(batch: [m.encode(text)]).array
        case .charlm, .wordlm: throw .init(.wrongKind, "this is a \(config.kind.rawValue) model; embed needs a sentiment or classifier model")
        }
    }

    /// `embed` of every text (rows one after another), each row the bits of `embed` alone.
    public func embedBatch(_ texts: [String], threads: Int = 0, monitor: ProgressMonitor? = nil) throws(SwiftRNNError) -> [Float] {
        let width = config.featureWidth
        switch self {
        case let .sentiment(m):
            return SentimentModel.rowsOfBatch(texts, width: width, threads: threads, monitor: monitor, grouped: m.transposed != nil,
                                              encode: m.encode, rows: { m.embeddings(batch: $0, monitor: monitor) })
        case let .classifier(m):
            return SentimentModel.rowsOfBatch(texts, width: width, threads: threads, monitor: monitor, grouped: m.transposed != nil,
                                              encode: m.encode, rows: { m.embeddings(batch: $0, monitor: monitor) })
        case .charlm, .wordlm: throw .init(.wrongKind, "this is a \(config.kind.rawValue) model; embed needs a sentiment or classifier model")
        }
    }

    /// Loads a model file (read whole, validated and converted; the file's bytes are freed).
    public static func load(path: String) throws(SwiftRNNError) -> Model {
        try FileIO.withFileBytes(path) { bytes throws(SwiftRNNError) in try load(bytes: bytes) }
    }

    /// Loads a model from the bytes of a model file (copied; the buffer may go afterwards).
    public static func load(bytes: UnsafeRawBufferPointer) throws(SwiftRNNError) -> Model {
        try BLAS.ensureLoaded()
        let file = try SafeTensors(bytes: bytes)
        let config = try ModelConfig(metadata: file.metadata)
        let weights = try ModelWeights(config: config, file: file)
        return try make(config: config, weights: weights)
    }

    public static func make(config: ModelConfig, weights: ModelWeights) throws(SwiftRNNError) -> Model {
        try BLAS.ensureLoaded()
        if config.cell == .jordan {
            // The loader refuses these; a config made in memory is checked the same way.
            guard config.kind == .charlm, !config.bidirectional, config.outputSize > 0,
                  weights.rnn.weights.allSatisfy({ $0.wHR != nil && $0.bHR != nil }), weights.rnn.projSize == config.outputSize
            else { throw .init(.unsupported, "a jordan cell needs a unidirectional charlm model with output_size and weight_hy/bias_hy (docs/jordan.md)") }
        }
        switch config.kind {
        case .sentiment: return .sentiment(try SentimentModel(config: config, weights: weights))
        case .charlm: return .charlm(try CharLanguageModel(config: config, weights: weights))
        case .wordlm: return .wordlm(try WordLanguageModel(config: config, weights: weights))
        case .classifier: return .classifier(try ClassifierModel(config: config, weights: weights))
        }
    }

    /// The model file's bytes.
    public func serialize(dtype: SafeTensors.DType = .f32) -> [UInt8] {
        var w = SafeTensorsWriter()
        w.metadata = config.metadata
        if dtype == .i8, let k = w.metadata.firstIndex(where: { $0.0 == "format_version" }) {
            w.metadata[k].1 = String(max(2, config.minimumFormatVersion))
        }
        weights.write(to: &w, config: config, dtype: dtype)
        return w.serialize()
    }

    public func save(to path: String, dtype: SafeTensors.DType = .f32) throws(SwiftRNNError) {
        try FileIO.writeAtomically(serialize(dtype: dtype), to: path)
    }

    /// One line: "sentiment: lstm, 1 layer, bidirectional, vocab 69,000, embedding 20, ..."
    public var summary: String {
        let c = config
        return "\(c.kind.rawValue): \(c.cell.rawValue), \(c.numLayers) layer\(c.numLayers == 1 ? "" : "s"), "
            + "\(c.bidirectional ? "bidirectional" : "unidirectional"), vocab \(c.vocabSize), "
            + "embedding \(c.embeddingDim), hidden \(c.hiddenSize)\(c.cell == .jordan ? ", output \(c.outputSize)" : ""), head \(weights.head.map { "\($0.outFeatures)" }.joined(separator: "->")), "
            + (c.ngramOrder > 0 ? "n-gram term 1-\(c.ngramOrder) x \(c.ngramBuckets) buckets, " : "")
            + "\(weights.parameterCount) parameters, \(weightStorage) weights"
    }

    /// How the product weights are stored in memory: "I8", "F16", "BF16" or "F32" (the file's
    /// dtype; it decides which kernels score the model, hence its speed).
    public var weightStorage: String {
        if !weights.int8Scales.isEmpty { return "I8" }
        switch weights.halfKind {
        case .f16?: return "F16"
        case .bf16?: return "BF16"
        case nil: return "F32"
        }
    }
}
