/// xoshiro256** seeded through splitmix64: small, fast, and the same stream on every platform,
/// so (model, prime, parameters, seed) always gives the same text.
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

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
    }
}

/// Draws indices from logits. Owns its scratch so a draw allocates nothing.
public struct Sampler {
    public let parameters: SamplingParameters
    private var rng: RandomSource
    private var probs: [Double] = []
    private var order: [Int] = []

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        self.rng = RandomSource(seed: parameters.seed)
    }

    /// The index drawn; NON_FINITE when a logit is NaN or infinite (weights that overflow on
    /// this text), which no distribution can be drawn from.
    public mutating func draw(_ logits: [Float]) throws(SwiftRNNError) -> Int { try draw(FloatBuffer(logits)) }

    public mutating func draw(_ logits: FloatBuffer) throws(SwiftRNNError) -> Int {
        let n = logits.count
        for v in logits where !v.isFinite { throw .nonFinite("in the next-character logits") }
        if parameters.greedy {
            var best = 0
            for k in 1..<n where logits[k] > logits[best] { best = k }
            return best
        }
        if probs.count != n { probs = .init(repeating: 0, count: n); order = Array(0..<n) }
        // Softmax of the scaled logits, in double for a stable cumulative sum.
        // The scaled logit in Float, as the book's `logits * scale_factor`; where that overflows
        // (a scale_factor near Float's range), in Double, which cannot: the softmax then tends
        // to the argmax instead of NaN.
        let scale = parameters.scaleFactor
        @inline(__always) func scaled(_ k: Int) -> Double {
            let v = logits[k] * scale
            return v.isFinite ? Double(v) : Double(logits[k]) * Double(scale)
        }
        var mx = -Double.infinity
        for k in 0..<n { mx = max(mx, scaled(k)) }
        var sum = 0.0
        for k in 0..<n {
            let p = exp(scaled(k) - mx)
            probs[k] = p.isNaN ? 0 : p
            sum += probs[k]
        }
        let filtered = parameters.topK > 0 && parameters.topK < n || parameters.topP < 1
        if filtered {
            for k in 0..<n { order[k] = k }
            order.sort { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && $0 < $1) }
            var keep = n
            if parameters.topK > 0 { keep = min(keep, parameters.topK) }
            if parameters.topP < 1 {
                var acc = 0.0
                let target = Double(parameters.topP) * sum
                for r in 0..<keep {
                    acc += probs[order[r]]
                    if acc >= target { keep = r + 1; break }
                }
            }
            for r in keep..<n { probs[order[r]] = 0 }
            sum = 0
            for r in 0..<keep { sum += probs[order[r]] }
        }
        guard sum > 0, sum.isFinite else { throw .nonFinite("in the sampling distribution") }
        let u = rng.unit() * sum
        var acc = 0.0
        var last = 0
        for k in 0..<n where probs[k] > 0 {
            acc += probs[k]
            last = k
            if u < acc { return k }
        }
        return last
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Text generation as the book's `sample()`: warm the state on the prime but its last
/// character, then feed the last character and draw, feeding each drawn character back.
public struct Generator {
    public let model: CharLanguageModel
    private var state: CharLanguageModel.State
    private var sampler: Sampler
    private var last: Int32
    private let team: StepTeam?

    /// `team`: a helper thread to split each step with (see `StepTeam`); the caller keeps it
    /// alive while the generator runs and stops it afterwards.
    public init(model: CharLanguageModel, prime: String, parameters: SamplingParameters,
                team: StepTeam? = nil) throws(SwiftRNNError) {
        try parameters.validate()
        let ids = try model.table.encode(prime)
        guard let lastId = ids.last else { throw .invalid("the prime is empty: give at least one character") }
        self.model = model
        self.team = team
        state = model.makeState()
        for id in ids.dropLast() { model.step(id, &state, computeLogits: false, team: team) }
        last = lastId
        sampler = Sampler(parameters)
    }

    /// The next character; NON_FINITE if the model's logits overflowed (its state is then not
    /// finite either: the generator is of no further use).
    public mutating func next() throws(SwiftRNNError) -> Unicode.Scalar {
        model.step(last, &state, team: team)
        let k = try sampler.draw(state.logits)
        last = Int32(k)
        return model.table.characters[k]
    }

    /// A helper thread for bulk generation when `parameters.threads` asks for one and the
    /// model is big enough to gain from it; nil otherwise. Stop it when done.
    public static func makeTeam(for model: CharLanguageModel, parameters: SamplingParameters) -> StepTeam? {
        let wanted = parameters.threads == 0 ? Parallel.cores : parameters.threads
        guard wanted >= 2, model.weights.rnn.hiddenSize >= StepTeam.minimumHidden else { return nil }
        return StepTeam()
    }

    /// prime + `count` generated characters. `monitor` (characters generated) is polled every
    /// 32 characters: CANCELLED when it says stop.
    public static func sample(model: CharLanguageModel, prime: String, count: Int,
                              parameters: SamplingParameters, monitor: ProgressMonitor? = nil) throws(SwiftRNNError) -> String {
        let team = makeTeam(for: model, parameters: parameters)
        defer { team?.stop() }
        var g = try Generator(model: model, prime: prime, parameters: parameters, team: team)
        var out = prime
        for k in 0..<count {
            if k & 31 == 31, let monitor {
                monitor.advance(by: 32)
                monitor.poll()
                try monitor.check()
            }
            out.unicodeScalars.append(try g.next())
        }
        return out
    }
}
