/// How the next character is drawn from the logits.
public struct SamplingParameters: Sendable, Equatable {
    /// Logits are multiplied by it before the softmax, as in the book (`Categorical(logits *
    /// scale_factor)`); temperature = 1 / scaleFactor.
    public var scaleFactor: Float = 1
    /// Keep only the k most likely characters (0: off).
    public var topK: Int = 0
    /// Keep the smallest set of most likely characters whose probability reaches topP (1: off).
    public var topP: Float = 1
    /// Always take the most likely character.
    public var greedy: Bool = false
    public var seed: UInt64 = 0
    /// Threads for bulk generation (`Generator.sample`, `swiftrnn_sample_text`): 1, or 2 to
    /// split each step's hidden units with a helper thread (0: 2 when there are 2+ cores).
    /// More than 2 is the same as 2. The text is the same for any value.
    public var threads: Int = 1
    /// Generation ends after the first of these strings is completed by the characters drawn
    /// since the generator was created or last fed (the stop string is part of the output).
    public var stopStrings: [String] = []
    /// CTRL-style: a logit l of a character that occurs among the last `repetitionWindow`
    /// characters of the text (prime, fed text and drawn characters) becomes l / penalty when
    /// l > 0, else l * penalty, once per distinct character, before the scale (1: off).
    public var repetitionPenalty: Float = 1
    public var repetitionWindow: Int = 64
    /// After top-k and top-p, drop the characters whose probability is below minP times the
    /// most likely one's (0: off).
    public var minP: Float = 0
    /// Characters never drawn (characters outside the model's table are ignored).
    public var banned: String = ""

    /// Limits of the controls, checked by `validate`.
    public static let maxStopStrings = 256, maxStopLength = 256, maxRepetitionWindow = 1 << 20

    public init(scaleFactor: Float = 1, topK: Int = 0, topP: Float = 1, greedy: Bool = false, seed: UInt64 = 0,
                threads: Int = 1) {
        self.scaleFactor = scaleFactor; self.topK = topK; self.topP = topP; self.greedy = greedy; self.seed = seed
        self.threads = threads
    }

    public func validate() throws(SwiftRNNError) {
        if !greedy {
            guard scaleFactor.isFinite, scaleFactor > 0 else {
                throw .invalid("scale_factor must be finite and > 0 (it is \(scaleFactor)); use greedy for argmax")
            }
        }
        if !greedy {   // greedy ignores them (the header says so), whatever their values
            guard topK >= 0 else { throw .invalid("top_k must be >= 0 (it is \(topK))") }
            guard topP.isFinite, topP > 0, topP <= 1 else { throw .invalid("top_p must be in (0, 1] (it is \(topP))") }
        }
        guard threads >= 0 else { throw .invalid("n_threads must be >= 0 (it is \(threads))") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw .invalid("repetition_penalty must be finite and > 0 (it is \(repetitionPenalty)); 1 is off")
        }
        guard repetitionWindow >= 0, repetitionWindow <= Self.maxRepetitionWindow else {
            throw .invalid("repetition_window must be in 0...\(Self.maxRepetitionWindow) (it is \(repetitionWindow))")
        }
        guard minP.isFinite, minP >= 0, minP <= 1 else { throw .invalid("min_p must be in [0, 1] (it is \(minP)); 0 is off") }
        guard stopStrings.count <= Self.maxStopStrings else {
            throw .invalid("\(stopStrings.count) stop strings; at most \(Self.maxStopStrings)")
        }
        for (k, t) in stopStrings.enumerated() {
            let n = t.unicodeScalars.count
            guard n > 0 else { throw .invalid("stop_strings[\(k)] is empty") }
            guard n <= Self.maxStopLength else {
                throw .invalid("stop_strings[\(k)] has \(n) characters; at most \(Self.maxStopLength)")
            }
        }
    }

    /// Whether the penalty changes anything.
    var penalizes: Bool { repetitionPenalty != 1 && repetitionWindow > 0 }
}
