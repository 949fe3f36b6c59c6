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
