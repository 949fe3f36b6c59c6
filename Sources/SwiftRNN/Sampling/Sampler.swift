#if canImport(Glibc)
import Glibc
#endif

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
