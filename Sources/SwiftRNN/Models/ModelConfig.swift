/// What a model file says about itself in `__metadata__` (docs/model-format.md).
public enum ModelKind: String, Sendable {
    /// The book's review classifier: tokens -> a probability.
    case sentiment
    /// The book's character model: characters -> the next character's distribution.
    case charlm
    /// A word-level language model over the book tokenizer's tokens (issue 14: pretraining the
    /// encoder of a review scorer on unlabeled reviews). Its vocabulary is a sentiment
    /// vocabulary (`<pad>`, `<unk>`, tokens) plus `<eos>`, the end of a review.
    case wordlm
}

public struct ModelConfig: Sendable, Equatable {
    /// The newest format this library reads: 2 adds int8 weights (I8 tensors with a `.scale`).
    /// Files without int8 are still written as version 1, so older libraries read them.
    public static let formatVersion = 2

    public var kind: ModelKind
    public var cell: CellKind
    public var vocabSize: Int
    public var embeddingDim: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var bidirectional: Bool
    /// Prefixes of the Linear layers after the recurrent stack (`fc1,fc2`; `fc`).
    public var head: [String]
    /// Tokens (sentiment) or characters (charlm) in index order.
    public var vocab: [String]
    public var description: String?
    public var trainedBy: String?
    /// The file's `format_version` (1 for a config made in memory).
    public var formatVersion = 1

    public var directions: Int { bidirectional ? 2 : 1 }

    public init(kind: ModelKind, cell: CellKind, vocabSize: Int, embeddingDim: Int, hiddenSize: Int,
                numLayers: Int, bidirectional: Bool, head: [String], vocab: [String],
                description: String? = nil, trainedBy: String? = nil) {
        self.kind = kind; self.cell = cell; self.vocabSize = vocabSize; self.embeddingDim = embeddingDim
        self.hiddenSize = hiddenSize; self.numLayers = numLayers; self.bidirectional = bidirectional
        self.head = head; self.vocab = vocab; self.description = description; self.trainedBy = trainedBy
    }

    /// Reads and range-checks the metadata of a model file.
    public init(metadata m: [String: String]) throws(SwiftRNNError) {
        func need(_ key: String) throws(SwiftRNNError) -> String {
            guard let v = m[key] else { throw .format("model metadata has no '\(key)' (docs/model-format.md)") }
            return v
        }
        func int(_ key: String, _ range: ClosedRange<Int>) throws(SwiftRNNError) -> Int {
            let text = try need(key)
            guard let v = Int(text), range.contains(v) else {
                throw .format("model metadata '\(key)' = \(JSONWriter.quote(text)) is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
        guard m["format"] == "swiftrnn" else {
            throw .format("not a libswiftrnn model: metadata 'format' is \(m["format"].map(JSONWriter.quote) ?? "missing"), expected \"swiftrnn\"")
        }
        let versionText = try need("format_version")
        guard let version = Int(versionText), version >= 1 else {
            throw .format("model metadata 'format_version' = \(JSONWriter.quote(versionText)) is not a positive integer")
        }
        formatVersion = version
        guard version <= ModelConfig.formatVersion else {
            throw .init(.unsupported, "model format version \(version) is newer than this library reads (\(ModelConfig.formatVersion)); upgrade libswiftrnn")
        }
        let kindText = try need("kind")
        guard let kind = ModelKind(rawValue: kindText) else {
            throw .format("unknown model kind \(JSONWriter.quote(kindText)) (expected \"sentiment\", \"charlm\" or \"wordlm\")")
        }
        let cellText = try need("cell")
        guard let cell = CellKind(rawValue: cellText) else {
            throw .format("unknown cell \(JSONWriter.quote(cellText)) (expected lstm, gru, rnn_tanh or rnn_relu)")
        }
        let bidi = try need("bidirectional")
        guard bidi == "true" || bidi == "false" else {
            throw .format("model metadata 'bidirectional' must be \"true\" or \"false\", not \(JSONWriter.quote(bidi))")
        }
        self.kind = kind
        self.cell = cell
        self.vocabSize = try int("vocab_size", 2...(1 << 24))
        self.embeddingDim = try int("embedding_dim", 1...65536)
        self.hiddenSize = try int("hidden_size", 1...65536)
        self.numLayers = try int("num_layers", 1...64)
        self.bidirectional = bidi == "true"
        let headText = try need("head")
        self.head = headText.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !head.isEmpty, head.allSatisfy({ !$0.isEmpty && $0 != "embedding" && $0 != "rnn" }),
              Set(head).count == head.count
        else { throw .format("model metadata 'head' = \(JSONWriter.quote(headText)) must list distinct Linear layer names") }
        guard head.count <= 16 else { throw .format("model metadata 'head' lists \(head.count) layers (at most 16)") }
        let vocabText = try need("vocab")
        guard case let .array(items) = try JSONParser.parse(vocabText) else {
            throw .format("model metadata 'vocab' is not a JSON array")
        }
        var vocab: [String] = []
        vocab.reserveCapacity(items.count)
        for item in items {
            guard let s = item.string else { throw .format("model metadata 'vocab' holds a non-string entry") }
            vocab.append(s)
        }
        guard vocab.count == vocabSize else {
            throw .format("vocabulary has \(vocab.count) entries but vocab_size is \(vocabSize)")
        }
        self.vocab = vocab
        self.description = m["description"]
        self.trainedBy = m["trained_by"]
        if kind == .charlm || kind == .wordlm {
            let k = kind.rawValue
            guard !bidirectional else { throw .format("a \(k) model must be unidirectional (it predicts left to right)") }
            guard head.count == 1 else { throw .format("a \(k) model has exactly one head layer (e.g. 'fc'), not \(head.count)") }
        }
    }

    public var metadata: [(String, String)] {
        var m: [(String, String)] = [
            ("format", "swiftrnn"), ("format_version", "1"),
            ("kind", kind.rawValue), ("cell", cell.rawValue), ("vocab_size", String(vocabSize)),
            ("embedding_dim", String(embeddingDim)), ("hidden_size", String(hiddenSize)),
            ("num_layers", String(numLayers)), ("bidirectional", bidirectional ? "true" : "false"),
            ("head", head.joined(separator: ",")), ("vocab", JSONWriter.array(vocab)),
        ]
        if let description { m.append(("description", description)) }
        if let trainedBy { m.append(("trained_by", trainedBy)) }
        return m
    }
}
