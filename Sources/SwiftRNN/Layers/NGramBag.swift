#if canImport(Glibc)
import Glibc
#endif

/// A linear term over a text's hashed word n-grams, added to the outputs of a many-to-one
/// model's head: the "wide" half of a wide-and-deep review scorer (issue 14).
///
/// Why it exists: a recurrent encoder reads word order, but it learns rare words and set
/// phrases slowly and forgets early ones in a long review; a linear model over word pairs
/// (tf-idf + logistic regression) knows exactly those and nothing else. Their errors differ,
/// so the sum of the two logits beats both (models/README.md has the figures).
///
/// The features of a text are those of scikit-learn's `TfidfVectorizer(ngram_range=(1, order),
/// sublinear_tf=True)` with its vocabulary replaced by hashing, so nothing but two tensors is
/// stored:
/// 1. the book tokenizer's tokens; every run of 1 to `order` consecutive tokens is an n-gram;
/// 2. an n-gram's bucket is the 64-bit FNV-1a hash of its tokens' UTF-8 bytes joined by one
///    space (0x20), modulo `buckets`;
/// 3. each distinct bucket, seen `c` times, has the value `(1 + ln c) * idf[bucket]`; the
///    vector is divided by its Euclidean norm (an all-zero vector stays zero).
///
/// The term is `sum over buckets of value * weight[bucket, :]`. Its PyTorch equivalent is
/// `nn.EmbeddingBag(buckets, outputs, mode='sum')` fed the buckets with the values as
/// `per_sample_weights` (`tools/torch_reference.ngram_bag`). Model file: `ngram_order` and
/// `ngram_buckets` metadata, tensors `ngram.idf` `[buckets]` and `ngram.weight`
/// `[buckets, outputs]` (docs/model-format.md).
public struct NGramBag: Sendable, Equatable {
    public static let maxOrder = 3
    /// 64 Mi rows: the tensors of the largest table are 256 MiB per output in F32.
    public static let maxBuckets = 1 << 26

    public let order: Int
    public let buckets: Int
    public let outputs: Int
    /// Inverse document frequency per bucket (0 turns a bucket off).
    public var idf: FloatBuffer
    /// `[buckets, outputs]`, row-major.
    public var weight: FloatBuffer

    public init(order: Int, buckets: Int, outputs: Int, idf: FloatBuffer, weight: FloatBuffer) {
        precondition((1...Self.maxOrder).contains(order) && buckets >= 1 && idf.count == buckets
                     && weight.count == buckets * outputs, "NGramBag shapes")
        self.order = order; self.buckets = buckets; self.outputs = outputs; self.idf = idf; self.weight = weight
    }

    static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    @inline(__always)
    static func fnv(_ h: UInt64, _ byte: UInt8) -> UInt64 { (h ^ UInt64(byte)) &* fnvPrime }

    /// The bucket of every n-gram of `text` (1 to `order` tokens), for each token the n-grams
    /// that end there, shortest first.
    public static func bucketList(of text: String, order: Int, buckets: Int) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.utf8.count / 3 * order)
        let n = UInt64(buckets)
        // The hashes of the 1- and 2-token n-grams that end at the previous token: a new token
        // extends them by " token" (FNV-1a runs left to right), so no byte is hashed more than
        // `order` times and nothing is allocated per token.
        var one: UInt64 = 0, two: UInt64 = 0, seen = 0
        Tokenizer.forEachToken(text) { token in
            var u = fnvOffset
            for b in token { u = fnv(u, b) }
            out.append(Int(u % n))
            var bi: UInt64 = 0
            if order >= 2 && seen >= 1 {
                bi = fnv(one, 0x20)
                for b in token { bi = fnv(bi, b) }
                out.append(Int(bi % n))
            }
            if order >= 3 && seen >= 2 {
                var tri = fnv(two, 0x20)
                for b in token { tri = fnv(tri, b) }
                out.append(Int(tri % n))
            }
            two = bi; one = u; seen += 1
        }
        return out
    }

    /// The distinct buckets of `text` with how often each occurs, sorted by bucket.
    public static func counts(of text: String, order: Int, buckets: Int) -> [(bucket: Int, count: Int)] {
        var list = bucketList(of: text, order: order, buckets: buckets)
        list.sort()
        var out: [(bucket: Int, count: Int)] = []
        var k = 0
        while k < list.count {
            var e = k + 1
            while e < list.count && list[e] == list[k] { e += 1 }
            out.append((list[k], e - k))
            k = e
        }
        return out
    }

    /// The feature vector (step 3 above) of bucket counts, as (bucket, value) pairs; buckets
    /// whose value is 0 are left out.
    public static func features(_ counts: [(bucket: Int, count: Int)], idf: FloatBuffer) -> [(bucket: Int, value: Float)] {
        var raw: [(Int, Double)] = []
        raw.reserveCapacity(counts.count)
        var norm2 = 0.0
        for (b, c) in counts {
            let v = (1 + log(Double(c))) * Double(idf[b])
            guard v != 0 else { continue }
            raw.append((b, v))
            norm2 += v * v
        }
        let norm = norm2.squareRoot()
        guard norm > 0, norm.isFinite else { return [] }
        return raw.map { ($0.0, Float($0.1 / norm)) }
    }

    /// The features of `text` under this table.
    public func features(of text: String) -> [(bucket: Int, value: Float)] {
        Self.features(Self.counts(of: text, order: order, buckets: buckets), idf: idf)
    }

    /// Adds the term for `text` to `out` (`outputs` values).
    public func addTerm(_ text: String, to out: inout [Float]) {
        var sum = [Double](repeating: 0, count: outputs)
        for (b, v) in features(of: text) {
            for j in 0..<outputs { sum[j] += Double(v) * Double(weight[b * outputs + j]) }
        }
        for j in 0..<outputs { out[j] += Float(sum[j]) }
    }

    /// The term for `text`.
    public func term(_ text: String) -> [Float] {
        var out = [Float](repeating: 0, count: outputs)
        addTerm(text, to: &out)
        return out
    }
}
