import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

/// Fits the n-gram term of a review scorer (`NGramBag`) and joins it to a trained network
/// (`swiftrnn train ngrams`, issue 14).
///
/// The term is trained apart from the network, as the tf-idf + logistic regression baseline
/// is: the document frequencies of the training reviews give `idf` (buckets seen in fewer than
/// `minDF` reviews get 0, as scikit-learn's `min_df`), then an L2-regularized logistic
/// regression over the normalized features, minimized by L-BFGS (deterministic: the gradient
/// is summed over a fixed number of chunks, whatever the threads). Training them jointly would
/// let the linear term memorize the training set within an epoch and starve the network.
///
/// The two logits are then added as `scale * network + alpha * term + shift`, the three numbers
/// fitted on the validation reviews (`mixing`), and folded into the tensors, so the model file
/// computes the mixture with no new operation.
public enum NGramTrainer {
    public struct Options {
        public var order = 2
        public var buckets = 1 << 20
        /// The inverse L2 strength, as scikit-learn's `C`: minimizes `C * sum of losses + |w|^2 / 2`.
        public var c = 10.0
        public var minDF = 2
        /// Scale each bucket's idf by the magnitude of its naive-Bayes log-count ratio
        /// (`naiveBayesScale`): NBSVM's idea (Wang & Manning 2012) on tf-idf features.
        public var naiveBayes = false
        public var maxIterations = 1000
        public var threads = 0
        public init() {}
    }

    /// A fitted term: the table (weights of the logistic regression), its bias, and how the
    /// optimization went.
    public struct Fit {
        public var bag: NGramBag
        public var bias: Float
        /// Buckets with a non-zero idf (the regression's features).
        public var features: Int
        public var iterations: Int
        public var converged: Bool
        /// The mean training log loss at the end.
        public var trainLoss: Double
    }

    /// The logistic regression's data: the features of every review, rows of
    /// (feature index, value), the indices into the compacted list of active buckets.
    struct Rows {
        var start: [Int] = [0]
        var index: [Int32] = []
        var value: [Float] = []
        var count: Int { start.count - 1 }
    }

    static let chunks = 16

    public static func fit(texts: [String], labels: [Float], options o: Options,
                           log: (String) -> Void = { _ in }) -> Fit {
        let n = texts.count
        let counts = Parallel.map(count: n, threads: o.threads) { NGramBag.counts(of: texts[$0], order: o.order, buckets: o.buckets) }
        var df = [Int32](repeating: 0, count: o.buckets)
        for c in counts { for (b, _) in c { df[b] += 1 } }
        var idf = FloatBuffer(count: o.buckets)
        var active = [Int32](repeating: -1, count: o.buckets), buckets: [Int] = []
        for b in 0..<o.buckets where Int(df[b]) >= max(1, o.minDF) {
            // scikit-learn's smooth idf: ln((1 + n) / (1 + df)) + 1.
            idf[b] = Float(Glibc.log(Double(1 + n) / Double(1 + Int(df[b]))) + 1)
            active[b] = Int32(buckets.count)
            buckets.append(b)
        }
        if o.naiveBayes {
            let scale = naiveBayesScale(counts: counts, labels: labels, active: active, features: buckets.count)
            for (k, b) in buckets.enumerated() { idf[b] = Float(Double(idf[b]) * scale[k]) }
        }
        var rows = Rows()
        for c in counts {
            for (b, v) in NGramBag.features(c, idf: idf) {
                rows.index.append(active[b]); rows.value.append(v)
            }
            rows.start.append(rows.index.count)
        }
        let m = buckets.count
        log("n-grams 1-\(o.order): \(m) of \(o.buckets) buckets seen in at least \(o.minDF) of \(n) reviews; \(rows.index.count) features in all\(o.naiveBayes ? "; idf scaled by |naive-Bayes log-count ratio|" : "")")

        // Objective over x = [w (m), b]: (C * sum_i loss_i + |w|^2 / 2) / (C n), the scaled
        // form keeping values near 1 (same minimizer as scikit-learn's).
        /// Review i's logit under x = [w, b].
        func logit(_ i: Int, _ x: [Double]) -> Double {
            var z = x[m]
            for e in rows.start[i]..<rows.start[i + 1] { z += Double(rows.value[e]) * x[Int(rows.index[e])] }
            return z
        }
        func evaluate(_ x: [Double]) -> (f: Double, g: [Double]) {
            let per = (n + chunks - 1) / chunks
            let parts = Parallel.map(count: chunks, threads: o.threads) { k -> (Double, [Double]) in
                var g = [Double](repeating: 0, count: m + 1), f = 0.0
                for i in (k * per)..<min(n, (k + 1) * per) {
                    let z = logit(i, x), y = Double(labels[i])
                    f += Losses.logLoss(logit: z, target: y)
                    let d = 1 / (1 + Glibc.exp(-z)) - y
                    for e in rows.start[i]..<rows.start[i + 1] { g[Int(rows.index[e])] += d * Double(rows.value[e]) }
                    g[m] += d
                }
                return (f, g)
            }
            var f = 0.0, g = [Double](repeating: 0, count: m + 1)
            for (pf, pg) in parts { f += pf; for j in 0...m { g[j] += pg[j] } }
            for j in 0..<m { f += x[j] * x[j] / (2 * o.c); g[j] += x[j] / o.c }
            for j in 0...m { g[j] /= Double(n) }
            return (f / Double(n), g)
        }
        let (x, iterations, converged) = LBFGS.minimize(count: m + 1, maxIterations: o.maxIterations, evaluate)
        // The mean log loss without the penalty.
        var loss = 0.0
        for i in 0..<n { loss += Losses.logLoss(logit: logit(i, x), target: Double(labels[i])) }
        var weight = FloatBuffer(count: o.buckets)
        for (k, b) in buckets.enumerated() { weight[b] = Float(x[k]) }
        let bag = NGramBag(order: o.order, buckets: o.buckets, outputs: 1, idf: idf, weight: weight)
        return Fit(bag: bag, bias: Float(x[m]), features: m, iterations: iterations, converged: converged,
                   trainLoss: loss / Double(max(1, n)))
    }

    /// `|r|` for each active bucket (`active[bucket]`: its column, or -1), where `r = ln((p / |p|_1) / (q / |q|_1))` and `p` (`q`)
    /// counts the positive (negative) reviews that contain the bucket, plus one (Laplace
    /// smoothing; the sums run over the active buckets): the log-count ratio of Wang & Manning's NBSVM.
    ///
    /// Why: tf-idf weighs an n-gram by how rare it is, not by how much it says about the
    /// label, so the regression must learn from 20,000 reviews to ignore frequent neutral
    /// n-grams. The ratio is that knowledge counted directly: multiplying it into the
    /// features before the L2 normalization lets the sentiment-bearing n-grams dominate a
    /// review's vector. Its sign is left out because the regression's weight carries the
    /// direction; a bucket equally common in both classes gets 0 and drops out. The scale is
    /// folded into `ngram.idf`, so the model file and the runtime do not change.
    static func naiveBayesScale(counts: [[(bucket: Int, count: Int)]], labels: [Float], active: [Int32], features: Int) -> [Double] {
        var p = [Double](repeating: 1, count: features), q = p
        for (i, c) in counts.enumerated() {
            for (b, _) in c where active[b] >= 0 {
                if labels[i] > 0.5 { p[Int(active[b])] += 1 } else { q[Int(active[b])] += 1 }
            }
        }
        let sp = p.reduce(0, +), sq = q.reduce(0, +)
        return p.indices.map { abs(Glibc.log((p[$0] / sp) / (q[$0] / sq))) }
    }

    /// How the two logits are added: `scale * network + alpha * (term + fit.bias) + shift`.
    public struct Mixing {
        public var scale: Double
        public var alpha: Double
        public var shift: Double

        public init(scale: Double, alpha: Double, shift: Double) { self.scale = scale; self.alpha = alpha; self.shift = shift }

        public func logit(network: Float, term: Float) -> Double {
            scale * Double(network) + alpha * Double(term) + shift
        }
    }

    /// The mixing with the lowest log loss on labelled logits (a logistic regression on the
    /// two logits, by L-BFGS: stacking). Both parts come out of training overconfident, the
    /// network more so, so their plain sum is not the best one. With `shift: false` (the
    /// default of `train ngrams`) only the two scales are fitted: each part keeps its own
    /// bias, and the validation reviews' prior (balanced, as IMDb's) is not fitted again into
    /// a third number that texts from elsewhere would inherit.
    public static func mixing(network: [Float], term: [Float], labels: [Float], shift: Bool = false) -> Mixing {
        let n = Double(max(1, network.count))
        let (p, _, _) = LBFGS.minimize(count: shift ? 3 : 2, maxIterations: 200, tolerance: 1e-9) { p in
            var f = 0.0, g = [Double](repeating: 0, count: p.count)
            for i in network.indices {
                let v = [Double(network[i]), Double(term[i]), 1]
                let z = p[0] * v[0] + p[1] * v[1] + (shift ? p[2] : 0), y = Double(labels[i])
                f += Losses.logLoss(logit: z, target: y)
                let d = 1 / (1 + Glibc.exp(-z)) - y
                for a in p.indices { g[a] += d * v[a] }
            }
            return (f / n, g.map { $0 / n })
        }
        return Mixing(scale: p[0], alpha: p[1], shift: shift ? p[2] : 0)
    }

    /// Mean log loss and accuracy of a mixing on labelled logits.
    public static func evaluate(_ m: Mixing, network: [Float], term: [Float], labels: [Float]) -> (loss: Double, accuracy: Double) {
        var loss = 0.0, right = 0
        for i in network.indices {
            let z = m.logit(network: network[i], term: term[i]), y = Double(labels[i])
            loss += Losses.logLoss(logit: z, target: y)
            if (z > 0) == (y > 0.5) { right += 1 }
        }
        let n = Double(max(1, network.count))
        return (loss / n, Double(right) / n)
    }

    /// `weights` (a sentiment network) with the fitted term joined as `mixing` says, folded into
    /// the tensors: the head's last layer scaled, the table times `alpha`, the biases moved.
    public static func join(_ weights: ModelWeights, config: ModelConfig, fit: Fit, mixing m: Mixing) -> (ModelWeights, ModelConfig) {
        var w = weights, c = config
        var bag = fit.bag
        let s = bag.weight.mutableSpan()
        for k in 0..<s.count { s[k] = Float(Double(s[k]) * m.alpha) }
        withExtendedLifetime(bag.weight) {}
        w.ngrams = bag
        let last = w.head.count - 1
        let lw = w.head[last].weight.mutableSpan()
        for k in 0..<lw.count { lw[k] = Float(Double(lw[k]) * m.scale) }
        withExtendedLifetime(w.head[last].weight) {}
        w.head[last].bias[0] = Float(Double(w.head[last].bias[0]) * m.scale + m.alpha * Double(fit.bias) + m.shift)
        c.ngramOrder = bag.order
        c.ngramBuckets = bag.buckets
        return (w, c)
    }
}

/// Limited-memory BFGS (Nocedal & Wright, algorithm 7.4) with a backtracking Armijo line
/// search: enough for the smooth convex objective of `NGramTrainer`.
enum LBFGS {
    static func minimize(count: Int, maxIterations: Int, history: Int = 10, tolerance: Double = 1e-5,
                         _ evaluate: ([Double]) -> (f: Double, g: [Double])) -> (x: [Double], iterations: Int, converged: Bool) {
        var x = [Double](repeating: 0, count: count)
        var (f, g) = evaluate(x)
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        func dot(_ a: [Double], _ b: [Double]) -> Double { var t = 0.0; for k in a.indices { t += a[k] * b[k] }; return t }
        for it in 0..<maxIterations {
            let gmax = g.reduce(0) { max($0, abs($1)) }
            if gmax < tolerance { return (x, it, true) }
            // Two-loop recursion: d = -H g.
            var q = g
            var a = [Double](repeating: 0, count: s.count)
            for k in stride(from: s.count - 1, through: 0, by: -1) {
                a[k] = rho[k] * dot(s[k], q)
                for j in 0..<count { q[j] -= a[k] * y[k][j] }
            }
            let gamma = s.isEmpty ? 1 / max(1e-12, dot(g, g).squareRoot()) : dot(s[s.count - 1], y[y.count - 1]) / dot(y[y.count - 1], y[y.count - 1])
            for j in 0..<count { q[j] *= gamma }
            for k in 0..<s.count {
                let b = rho[k] * dot(y[k], q)
                for j in 0..<count { q[j] += s[k][j] * (a[k] - b) }
            }
            var d = q
            for j in 0..<count { d[j] = -d[j] }
            var slope = dot(g, d)
            if slope >= 0 {   // not a descent direction: restart from the gradient
                s.removeAll(); y.removeAll(); rho.removeAll()
                let scale = 1 / max(1e-12, dot(g, g).squareRoot())
                for j in 0..<count { d[j] = -g[j] * scale }
                slope = dot(g, d)
            }
            var step = 1.0, xNew = x, fNew = f, gNew = g, accepted = false
            for _ in 0..<40 {
                for j in 0..<count { xNew[j] = x[j] + step * d[j] }
                (fNew, gNew) = evaluate(xNew)
                if fNew <= f + 1e-4 * step * slope { accepted = true; break }
                step /= 2
            }
            guard accepted else { return (x, it, false) }
            var sk = [Double](repeating: 0, count: count), yk = sk
            for j in 0..<count { sk[j] = xNew[j] - x[j]; yk[j] = gNew[j] - g[j] }
            let sy = dot(sk, yk)
            if sy > 1e-12 {
                if s.count == history { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
                s.append(sk); y.append(yk); rho.append(1 / sy)
            }
            let change = f - fNew
            x = xNew; f = fNew; g = gNew
            if change >= 0 && change < 1e-12 * max(1, abs(f)) { return (x, it + 1, true) }
        }
        return (x, maxIterations, false)
    }
}
