/// A loaded model of either kind.
public enum Model: Sendable {
    case sentiment(SentimentModel)
    case charlm(CharLanguageModel)
    case wordlm(WordLanguageModel)

    public var config: ModelConfig {
        switch self {
        case let .sentiment(m): return m.config
        case let .charlm(m): return m.config
        case let .wordlm(m): return m.config
        }
    }

    public var weights: ModelWeights {
        switch self {
        case let .sentiment(m): return m.weights
        case let .charlm(m): return m.weights
        case let .wordlm(m): return m.weights
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
        switch config.kind {
        case .sentiment: return .sentiment(try SentimentModel(config: config, weights: weights))
        case .charlm: return .charlm(try CharLanguageModel(config: config, weights: weights))
        case .wordlm: return .wordlm(try WordLanguageModel(config: config, weights: weights))
        }
    }

    /// The model file's bytes.
    public func serialize(dtype: SafeTensors.DType = .f32) -> [UInt8] {
        var w = SafeTensorsWriter()
        w.metadata = config.metadata
        if dtype == .i8, let k = w.metadata.firstIndex(where: { $0.0 == "format_version" }) { w.metadata[k].1 = "2" }
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
            + "embedding \(c.embeddingDim), hidden \(c.hiddenSize), head \(weights.head.map { "\($0.outFeatures)" }.joined(separator: "->")), "
            + "\(weights.parameterCount) parameters"
    }
}
