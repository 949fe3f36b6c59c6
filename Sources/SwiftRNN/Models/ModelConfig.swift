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
    /// A many-to-one text classifier with named labels (softmax or one sigmoid per label): the
    /// sentiment model's tokenizer, encoder and head shape, with `labels.count` outputs.
    case classifier
}

public struct ModelConfig: Sendable, Equatable {
    /// The newest format this library reads: 2 adds int8 weights (I8 tensors with a `.scale`),
    /// 3 adds `pooling` (concat pooling), 4 the n-gram term (`ngram_order`, `NGramBag`). A file
    /// is written with the lowest version that holds it (1 without any), so older libraries read
    /// what they can and refuse the rest as UNSUPPORTED rather than misreading it.
    public static let formatVersion = 4

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
    /// How the training reviews were split for validation (metadata `training_split`, e.g.
    /// `seed=1 validation=5000 reviews=25000`, written by `swiftrnn train sentiment`). The
    /// runtime only carries it along; `train ngrams` reads it so that it stacks the n-gram term on
    /// the network's own held-out reviews, never on reviews the network trained on.
    public var trainingSplit: String?
    /// The file's `format_version` (1 for a config made in memory).
    public var formatVersion = 1
    /// `classifier`: the label names, one per output of the last head layer (empty otherwise).
    public var labels: [String] = []
    /// `classifier`: one sigmoid per label (multi-label) rather than a softmax over them.
    public var multiLabel = false
    /// `nn.LSTM(proj_size=...)`: the width of the projected state (0: none). Sentiment and
    /// classifier LSTMs only, inference only.
    public var projSize = 0
    /// `jordan` cells: the width of each layer's output `y`, which is also its state and what
    /// the next layer (or the head) reads (metadata `output_size`, required for that cell and
    /// refused for the others). 0 for other cells.
    public var outputSize = 0

    /// Sentiment and classifier: what the head reads from the last layer (`Pooling`).
    public var pooling = Pooling.last

    /// Sentiment and classifier: the longest n-gram of the hashed n-gram term added to the head's
    /// outputs (`NGramBag`; 0: no such term), and its number of buckets.
    public var ngramOrder = 0
    public var ngramBuckets = 0

    /// The width of each direction's state `h`: `projSize` or `hiddenSize` (a Jordan cell's
    /// `outputSize`).
    public var stateSize: Int { cell == .jordan ? outputSize : projSize > 0 ? projSize : hiddenSize }

    /// The width of the vector the head reads (`swiftrnn_embed`): `directions * stateSize`,
    /// three times that with concat pooling.
    public var featureWidth: Int { pooling.multiple * directions * stateSize }

    /// The `format_version` this config needs (see `formatVersion`).
    public var minimumFormatVersion: Int { ngramOrder > 0 ? 4 : pooling != .last ? 3 : 1 }

    /// The number of outputs of the last head layer the kind implies (charlm: the table).
    public var outputCount: Int {
        switch kind {
        case .sentiment: return 1
        case .charlm, .wordlm: return vocabSize
        case .classifier: return labels.count
        }
    }

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
            throw .format("unknown model kind \(JSONWriter.quote(kindText)) (expected \"sentiment\", \"charlm\", \"wordlm\" or \"classifier\")")
        }
        let cellText = try need("cell")
        guard let cell = CellKind(rawValue: cellText) else {
            throw .format("unknown cell \(JSONWriter.quote(cellText)) (expected lstm, gru, rnn_tanh, rnn_relu or jordan)")
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
        self.trainingSplit = m["training_split"]
        if let p = m["proj_size"] {
            guard let v = Int(p), v >= 0, v < hiddenSize else {
                throw .format("model metadata 'proj_size' = \(JSONWriter.quote(p)) is not an integer in 0..<hidden_size (\(hiddenSize))")
            }
            guard v == 0 || (cell == .lstm && (kind == .sentiment || kind == .classifier)) else {
                throw .init(.unsupported, "proj_size is supported for the LSTM of a sentiment or classifier model, not a \(kind.rawValue) \(cell.rawValue)")
            }
            projSize = v
        }
        if let p = m["pooling"] {
            guard let v = Pooling(rawValue: p) else {
                throw .format("model metadata 'pooling' = \(JSONWriter.quote(p)) is not \"last\" or \"concat\"")
            }
            guard v == .last || kind == .sentiment || kind == .classifier else {
                throw .format("model metadata 'pooling' = \"\(p)\" applies to sentiment and classifier models, not \(kind.rawValue)")
            }
            guard v == .last || version >= 3 else {
                throw .format("model metadata 'pooling' = \"\(p)\" needs format_version 3, the file says \(version)")
            }
            pooling = v
        }
        if m["ngram_order"] != nil {
            guard kind == .sentiment || kind == .classifier else {
                throw .format("model metadata 'ngram_order' applies to sentiment and classifier models, not \(kind.rawValue)")
            }
            guard version >= 4 else {
                throw .format("model metadata 'ngram_order' needs format_version 4, the file says \(version)")
            }
            ngramOrder = try int("ngram_order", 1...NGramBag.maxOrder)
            ngramBuckets = try int("ngram_buckets", 1...NGramBag.maxBuckets)
        } else if m["ngram_buckets"] != nil {
            throw .format("model metadata has 'ngram_buckets' but no 'ngram_order'")
        }
        if kind == .classifier {
            let labelsText = try need("labels")
            guard case let .array(items) = try JSONParser.parse(labelsText) else {
                throw .format("model metadata 'labels' is not a JSON array")
            }
            var labels: [String] = []
            for item in items {
                guard let s = item.string, !s.isEmpty else { throw .format("model metadata 'labels' holds an entry that is not a non-empty string") }
                labels.append(s)
            }
            guard Set(labels).count == labels.count else { throw .format("model metadata 'labels' names a label twice") }
            let multi = m["multi_label"] ?? "false"
            guard multi == "true" || multi == "false" else {
                throw .format("model metadata 'multi_label' must be \"true\" or \"false\", not \(JSONWriter.quote(multi))")
            }
            multiLabel = multi == "true"
            guard (multiLabel ? 1 : 2)...65536 ~= labels.count else {
                throw .format("a \(multiLabel ? "multi-label" : "single-label") classifier needs \(multiLabel ? 1 : 2) to 65536 labels, not \(labels.count)")
            }
            self.labels = labels
        }
        if let o = m["output_size"] {
            guard cell == .jordan else { throw .format("model metadata 'output_size' is for jordan cells, not \(cell.rawValue)") }
            guard let v = Int(o), (1...65536).contains(v) else {
                throw .format("model metadata 'output_size' = \(JSONWriter.quote(o)) is not an integer in 1...65536")
            }
            outputSize = v
        }
        if cell == .jordan {
            guard kind == .charlm else {
                throw .init(.unsupported, "jordan cells are supported in charlm models only, not \(kind.rawValue) (docs/jordan.md)")
            }
            guard outputSize > 0 else { throw .format("model metadata has no 'output_size' (a jordan cell needs it; docs/model-format.md)") }
            guard projSize == 0 else { throw .init(.unsupported, "proj_size is for LSTMs, not a jordan cell") }
        }
        if kind == .charlm || kind == .wordlm {
            let k = kind.rawValue
            guard !bidirectional else { throw .format("a \(k) model must be unidirectional (it predicts left to right)") }
            guard head.count == 1 else { throw .format("a \(k) model has exactly one head layer (e.g. 'fc'), not \(head.count)") }
        }
    }

    public var metadata: [(String, String)] {
        var m: [(String, String)] = [
            ("format", "swiftrnn"), ("format_version", String(minimumFormatVersion)),
            ("kind", kind.rawValue), ("cell", cell.rawValue), ("vocab_size", String(vocabSize)),
            ("embedding_dim", String(embeddingDim)), ("hidden_size", String(hiddenSize)),
            ("num_layers", String(numLayers)), ("bidirectional", bidirectional ? "true" : "false"),
            ("head", head.joined(separator: ",")), ("vocab", JSONWriter.array(vocab)),
        ]
        if projSize > 0 { m.append(("proj_size", String(projSize))) }
        if cell == .jordan { m.append(("output_size", String(outputSize))) }
        if pooling != .last { m.append(("pooling", pooling.rawValue)) }
        if ngramOrder > 0 {
            m.append(("ngram_order", String(ngramOrder)))
            m.append(("ngram_buckets", String(ngramBuckets)))
        }
        if kind == .classifier {
            m.append(("labels", JSONWriter.array(labels)))
            m.append(("multi_label", multiLabel ? "true" : "false"))
        }
        if let description { m.append(("description", description)) }
        if let trainedBy { m.append(("trained_by", trainedBy)) }
        if let trainingSplit { m.append(("training_split", trainingSplit)) }
        return m
    }
}
