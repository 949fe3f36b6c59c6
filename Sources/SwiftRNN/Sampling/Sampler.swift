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

    /// The four words of the generator's state (saved with a generator's state).
    public var words: [UInt64] { [s.0, s.1, s.2, s.3] }

    /// A generator continuing from `words` (4 words, not all zero: xoshiro's one bad state).
    public init?(words w: [UInt64]) {
        guard w.count == 4, w.contains(where: { $0 != 0 }) else { return nil }
        s = (w[0], w[1], w[2], w[3])
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

/// Draws indices from logits. Owns its scratch so a draw allocates nothing.
///
/// A draw, in this order: (1) the repetition penalty on the raw logits, (2) banned characters
/// removed, then greedy takes the argmax of the rest (first index on ties); otherwise (3) the
/// logits times scaleFactor, softmax, (4) top-k, (5) top-p, (6) min-p against the most likely
/// character, (7) one uniform draw from what is left.
public struct Sampler {
    public let parameters: SamplingParameters
    var rng: RandomSource
    private var probs: [Double] = []
    private var order: [Int] = []
    private var adjusted: [Float] = []
    private var seen: [Bool] = []
    /// banned[k]: character k is never drawn (empty: none banned).
    let banned: [Bool]

    public init(_ parameters: SamplingParameters, banned: [Bool] = []) {
        self.parameters = parameters
        self.rng = RandomSource(seed: parameters.seed)
        self.banned = banned.contains(true) ? banned : []
    }

    /// The index drawn; NON_FINITE when a logit is NaN or infinite (weights that overflow on
    /// this text), which no distribution can be drawn from. `recent`: the text's last
    /// characters, of which the last `repetitionWindow` are penalized.
    public mutating func draw(_ logits: [Float], recent: ArraySlice<Int32> = []) throws(SwiftRNNError) -> Int {
        try draw(logits: logits, recent: recent)
    }

    public mutating func draw(_ logits: FloatBuffer, recent: ArraySlice<Int32> = []) throws(SwiftRNNError) -> Int {
        try draw(logits: logits, recent: recent)
    }

    private mutating func draw<L: RandomAccessCollection>(logits raw: L, recent: ArraySlice<Int32>) throws(SwiftRNNError) -> Int
        where L.Element == Float, L.Index == Int {
        let n = raw.count
        for v in raw where !v.isFinite { throw .nonFinite("in the next-character logits") }
        if parameters.penalizes, !recent.isEmpty {
            if adjusted.count != n { adjusted = .init(repeating: 0, count: n); seen = .init(repeating: false, count: n) }
            for k in 0..<n { adjusted[k] = raw[k] }
            let p = parameters.repetitionPenalty
            let window = recent.suffix(parameters.repetitionWindow)
            for id in window where id >= 0 && Int(id) < n && !seen[Int(id)] {
                let k = Int(id)
                seen[k] = true
                let v = adjusted[k] > 0 ? adjusted[k] / p : adjusted[k] * p
                adjusted[k] = v.isFinite ? v : (v > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude)
            }
            for id in window where id >= 0 && Int(id) < n { seen[Int(id)] = false }
            let penalized = adjusted
            return try choose(penalized)
        }
        return try choose(raw)
    }

    /// Steps 2-7 of a draw on (penalized) logits.
    private mutating func choose<L: RandomAccessCollection>(_ logits: L) throws(SwiftRNNError) -> Int
        where L.Element == Float, L.Index == Int {
        let n = logits.count
        let isBanned = banned.count == n
        if parameters.greedy {
            var best = -1
            for k in 0..<n where !(isBanned && banned[k]) {
                if best < 0 || logits[k] > logits[best] { best = k }
            }
            guard best >= 0 else { throw .invalid("every character is banned") }
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
        for k in 0..<n where !(isBanned && banned[k]) { mx = max(mx, scaled(k)) }
        var sum = 0.0
        for k in 0..<n {
            if isBanned && banned[k] { probs[k] = 0; continue }
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
        if parameters.minP > 0 {
            var top = 0.0
            for k in 0..<n { top = max(top, probs[k]) }
            let threshold = Double(parameters.minP) * top
            sum = 0
            for k in 0..<n {
                if probs[k] < threshold { probs[k] = 0 }
                sum += probs[k]
            }
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
    var state: CharLanguageModel.State
    var sampler: Sampler
    /// The character the state has not yet taken in (the prime's last, then each drawn one).
    var last: Int32
    /// The state has taken in `last` already and `state.logits` are the next character's
    /// (set by `logits()`, so that the next draw does not step again).
    var advanced = false
    /// The text's last characters (prime, fed, drawn), oldest first: at least `keep` of them
    /// when the text has that many.
    var history: [Int32] = []
    /// Characters drawn since creation or the last `feed` (stop strings match only those).
    var drawnSinceFeed = 0
    /// The index of the stop string the last draw completed, nil when none.
    public internal(set) var stopIndex: Int?
    let stops: [[Int32]]
    let keep: Int
    private let team: StepTeam?

    /// `team`: a helper thread to split each step with (see `StepTeam`); the caller keeps it
    /// alive while the generator runs and stops it afterwards.
    public init(model: CharLanguageModel, prime: String, parameters: SamplingParameters,
                team: StepTeam? = nil) throws(SwiftRNNError) {
        try parameters.validate()
        let ids = try model.table.encode(prime)
        guard let lastId = ids.last else { throw .invalid("the prime is empty: give at least one character") }
        var banned = [Bool](repeating: false, count: model.table.count)
        for s in parameters.banned.unicodeScalars { if let id = model.table.id(s) { banned[Int(id)] = true } }
        guard banned.contains(false) else { throw .invalid("banned lists every character of the model's table") }
        // A stop string with a character outside the table can never be drawn: it never matches.
        stops = parameters.stopStrings.map { t in t.unicodeScalars.map { model.table.id($0) ?? -1 } }
        keep = max(parameters.penalizes ? parameters.repetitionWindow : 0, stops.map(\.count).max() ?? 0)
        self.model = model
        self.team = team
        state = model.makeState()
        for id in ids.dropLast() { model.step(id, &state, computeLogits: false, team: team) }
        last = lastId
        sampler = Sampler(parameters, banned: banned)
        remember(ids[...])
    }

    public var parameters: SamplingParameters { sampler.parameters }

    /// Keeps the last `keep` characters (trimmed in bulk, so appending is amortized O(1)).
    mutating func remember(_ ids: ArraySlice<Int32>) {
        guard keep > 0 else { return }
        history.append(contentsOf: ids.suffix(keep))
        if history.count > 2 * keep + 64 { history.removeFirst(history.count - keep) }
    }

    /// The next character; NON_FINITE if the model's logits overflowed (its state is then not
    /// finite either: the generator is of no further use). Sets `stopIndex` when the character
    /// completes a stop string (nil otherwise); drawing on after a stop is allowed.
    public mutating func next() throws(SwiftRNNError) -> Unicode.Scalar {
        if !advanced { model.step(last, &state, team: team) }
        advanced = true
        let k = try sampler.draw(state.logits, recent: history[...])
        advanced = false
        last = Int32(k)
        drawnSinceFeed += 1
        if keep > 0 {
            history.append(last)
            if history.count > 2 * keep + 64 { history.removeFirst(history.count - keep) }
        }
        stopIndex = nil
        if !stops.isEmpty {
            for (j, t) in stops.enumerated() where t.count <= drawnSinceFeed && history.count >= t.count {
                if history.suffix(t.count).elementsEqual(t) { stopIndex = j; break }
            }
        }
        return model.table.characters[k]
    }

    /// Advances the state over `text` exactly as a longer prime would have: after
    /// `feed("ab")` and `feed("c")` the generator is in the state a prime ending in "abc" gives
    /// (the random stream is not touched). An empty text does nothing; a character outside the
    /// table is INVALID_ARGUMENT and changes nothing. Clears `stopIndex`; stop strings then
    /// match only characters drawn after this text.
    public mutating func feed(_ text: String) throws(SwiftRNNError) {
        let ids = try model.table.encode(text)
        guard let lastId = ids.last else { return }
        if !advanced { model.step(last, &state, computeLogits: false, team: team) }
        for id in ids.dropLast() { model.step(id, &state, computeLogits: false, team: team) }
        last = lastId
        advanced = false
        drawnSinceFeed = 0
        stopIndex = nil
        remember(ids[...])
    }

    /// The next character's logits as the sampler's softmax sees them: the model's logits
    /// times scaleFactor (unscaled when greedy), before the repetition penalty, bans and
    /// top-k/top-p/min-p. Steps the state on the pending character once (the next draw then
    /// does not step again). NON_FINITE when a value is NaN or infinite.
    public mutating func logits() throws(SwiftRNNError) -> [Float] {
        if !advanced { model.step(last, &state, team: team); advanced = true }
        for v in state.logits where !v.isFinite { throw .nonFinite("in the next-character logits") }
        if parameters.greedy { return state.logits.array }
        let scale = parameters.scaleFactor
        var out = state.logits.array
        for k in out.indices {
            out[k] *= scale
            guard out[k].isFinite else {
                throw .nonFinite("in the scaled logits (logit \(state.logits[k]) times scale_factor \(scale) overflows Float)")
            }
        }
        return out
    }

    /// A helper thread for bulk generation when `parameters.threads` asks for one and the
    /// model is big enough to gain from it; nil otherwise. Stop it when done.
    public static func makeTeam(for model: CharLanguageModel, parameters: SamplingParameters) -> StepTeam? {
        let wanted = parameters.threads == 0 ? Parallel.cores : parameters.threads
        guard wanted >= 2, model.weights.rnn.hiddenSize >= StepTeam.minimumHidden else { return nil }
        return StepTeam()
    }

    /// prime + up to `count` generated characters (fewer when a stop string ends it: see
    /// `stopIndex`). `monitor` (characters generated) is polled every 32 characters: CANCELLED
    /// when it says stop.
    public static func sample(model: CharLanguageModel, prime: String, count: Int,
                              parameters: SamplingParameters, monitor: ProgressMonitor? = nil) throws(SwiftRNNError) -> String {
        try sampleWithStop(model: model, prime: prime, count: count, parameters: parameters, monitor: monitor).text
    }

    /// As `sample`, with the index of the stop string that ended it (nil: `count` characters).
    public static func sampleWithStop(model: CharLanguageModel, prime: String, count: Int,
                                      parameters: SamplingParameters, monitor: ProgressMonitor? = nil)
        throws(SwiftRNNError) -> (text: String, stop: Int?) {
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
            if let j = g.stopIndex { return (out, j) }
        }
        return (out, nil)
    }
}
