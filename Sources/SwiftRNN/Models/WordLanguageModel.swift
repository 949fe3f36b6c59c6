/// A word-level language model (issue 14): the book tokenizer's tokens -> embedding ->
/// recurrent stack -> `fc` -> the next token's logits. It is trained on unlabeled reviews to
/// give a review scorer its encoder (`swiftrnn train sentiment --init-from`); the library only
/// evaluates it (held-out perplexity), it answers no scoring or sampling call.
///
/// Immutable: one instance serves any number of threads.
public final class WordLanguageModel: Sendable {
    public let config: ModelConfig
    public let vocabulary: Vocabulary
    public let weights: ModelWeights
    /// The id of `<eos>`, which ends every review in the training stream.
    public let endOfReview: Int32

    public static let endOfReviewToken = "<eos>"

    public init(config: ModelConfig, weights: ModelWeights) throws(SwiftRNNError) {
        guard config.kind == .wordlm else { throw .init(.wrongKind, "not a word language model") }
        self.config = config
        self.vocabulary = try Vocabulary(tokens: config.vocab)
        guard let eos = config.vocab.firstIndex(of: Self.endOfReviewToken) else {
            throw .format("a wordlm vocabulary must hold \(JSONWriter.quote(Self.endOfReviewToken))")
        }
        endOfReview = Int32(eos)
        self.weights = weights
    }

    /// A review's ids followed by `<eos>`, as the training stream holds it.
    public func encodeReview(_ text: String) -> [Int32] { vocabulary.encode(text) + [endOfReview] }

    /// Negative log-likelihood (nats) of a review's tokens and its `<eos>`, each given the ones
    /// before it, from a zero state (the first token is not predicted), and how many that is.
    public func negativeLogLikelihood(review text: String) -> (nats: Double, predicted: Int) {
        LanguageModel.negativeLogLikelihood(weights, ids: encodeReview(text))
    }
}
