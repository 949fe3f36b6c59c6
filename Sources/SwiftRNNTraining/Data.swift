import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

/// A labelled review (label 1 = positive).
public struct Review: Sendable {
    public var text: String
    public var label: Float
}

/// The IMDb Large Movie Review Dataset as unpacked from aclImdb_v1.tar.gz:
/// `DIR/{train,test}/{pos,neg}/*.txt` (download: https://ai.stanford.edu/~amaas/data/sentiment/).
public enum IMDb {
    /// The reviews of one split (`train` or `test`), pos then neg, each sorted by file name.
    public static func load(dir: String, split: String) throws(SwiftRNNError) -> [Review] {
        var out: [Review] = []
        for (label, sub) in [(Float(1), "pos"), (Float(0), "neg")] {
            let folder = "\(dir)/\(split)/\(sub)"
            let names = try listFiles(folder).filter { $0.hasSuffix(".txt") }.sorted()
            guard !names.isEmpty else { throw .init(.io, "no .txt reviews in '\(folder)' (expected the aclImdb layout)") }
            for n in names {
                let bytes = try FileIO.readAll("\(folder)/\(n)")
                out.append(Review(text: String(decoding: bytes, as: UTF8.self), label: label))
            }
        }
        return out
    }

    /// The texts of every `.txt` file in `folder`, sorted by file name (the 50,000 unlabeled
    /// reviews of `aclImdb/train/unsup`).
    public static func loadTexts(folder: String) throws(SwiftRNNError) -> [String] {
        let names = try listFiles(folder).filter { $0.hasSuffix(".txt") }.sorted()
        guard !names.isEmpty else { throw .init(.io, "no .txt reviews in '\(folder)'") }
        var out: [String] = []
        out.reserveCapacity(names.count)
        for n in names { out.append(String(decoding: try FileIO.readAll("\(folder)/\(n)"), as: UTF8.self)) }
        return out
    }

    static func listFiles(_ path: String) throws(SwiftRNNError) -> [String] {
        guard let d = opendir(path) else { throw .init(.io, "cannot open directory '\(path)'") }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The book's split of the 25,000 training reviews into 20,000 for training and 5,000 for
    /// validation: a seeded shuffle (the book uses `random_split` with `torch.manual_seed(1)`;
    /// the permutation here is this library's own, equally seeded).
    public static func split(_ reviews: [Review], validation: Int = 5000, seed: UInt64 = 1) -> (train: [Review], valid: [Review]) {
        var rng = RandomSource(seed: seed)
        var idx = Array(reviews.indices)
        shuffle(&idx, &rng)
        let nValid = min(validation, reviews.count / 5)
        let valid = idx.prefix(nValid).map { reviews[$0] }
        let train = idx.dropFirst(nValid).map { reviews[$0] }
        return (train, valid)
    }
}

/// Which split of the training reviews a sentiment network was trained on: what
/// `IMDb.split(_:validation:seed:)` needs to give the same validation reviews again. Saved in the
/// model as `training_split` (`ModelConfig.trainingSplit`) so that `train ngrams` chooses its
/// mixing on reviews the network never saw; a mixing fitted on training reviews trusts the
/// network far too much (a network trained with seed 2 and stacked on seed 1's split: 97%
/// "validation" accuracy, the term weighted negative).
public struct TrainingSplit: Equatable, Sendable {
    public var seed: UInt64
    /// Held-out reviews (0: the network trained on all of them).
    public var validation: Int
    /// All the training reviews the split was drawn from: another folder gives another split.
    public var reviews: Int

    public init(seed: UInt64, validation: Int, reviews: Int) {
        self.seed = seed; self.validation = validation; self.reviews = reviews
    }

    /// `seed=1 validation=5000 reviews=25000`.
    public var metadata: String { "seed=\(seed) validation=\(validation) reviews=\(reviews)" }

    /// Parses `metadata`'s form (the three fields, in any order, each once); nil otherwise.
    public init?(metadata text: String) {
        var fields: [Substring: Substring] = [:]
        for part in text.split(separator: " ", omittingEmptySubsequences: false) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, fields.updateValue(kv[1], forKey: kv[0]) == nil else { return nil }
        }
        guard fields.count == 3, let s = fields["seed"].flatMap({ UInt64($0) }),
              let v = fields["validation"].flatMap({ Int($0) }), let n = fields["reviews"].flatMap({ Int($0) }),
              n >= 0, (0...n).contains(v)
        else { return nil }
        self.init(seed: s, validation: v, reviews: n)
    }
}

/// Windows of a text that is not a review (a book, a manual, news), for outlier exposure
/// (Hendrycks et al. 2019): `train sentiment --neutral-text` trains the network toward 0.5 on
/// them, so that on text unlike its reviews it says "no idea" rather than whatever IMDb's
/// off-topic sentences meant (they lean negative: the scorers trained here call most everyday
/// snippets negative, docs/pretraining.md, session 10).
public enum NeutralText {
    /// `count` windows of the book tokenizer's tokens of the UTF-8 file at `path`, each of a
    /// length in `length` at a start drawn from `seed`, as text (the tokens joined by spaces,
    /// which the tokenizer reads back as the same tokens).
    public static func windows(path: String, count: Int, length: ClosedRange<Int>, seed: UInt64) throws(SwiftRNNError) -> [String] {
        let tokens = Tokenizer.tokenizeToStrings(String(decoding: try FileIO.readAll(path), as: UTF8.self))
        guard tokens.count >= length.upperBound else {
            throw .invalid("'\(path)' has \(tokens.count) tokens; neutral windows of up to \(length.upperBound) tokens need at least that many")
        }
        var rng = RandomSource(seed: seed &* 0xD1B5_4A32_D192_ED03 &+ 11)
        return (0..<count).map { _ in
            let n = length.lowerBound + Int(rng.next() % UInt64(length.count))
            let start = Int(rng.next() % UInt64(tokens.count - n + 1))
            return tokens[start..<(start + n)].joined(separator: " ")
        }
    }
}

/// Fisher-Yates with our seeded generator (the standard library's shuffle may change between
/// Swift versions; this one never does).
public func shuffle<T>(_ a: inout [T], _ rng: inout RandomSource) {
    guard a.count > 1 else { return }
    for i in stride(from: a.count - 1, to: 0, by: -1) {
        let j = Int(rng.next() % UInt64(i + 1))
        a.swapAt(i, j)
    }
}

/// The character corpus of the book: a text file read as Python's text mode does (CRLF and CR
/// become LF), sliced from `startMarker` to `endMarker` (the book: 'THE MYSTERIOUS ISLAND' ..
/// 'End of the Project Gutenberg'), its characters sorted by code point as `sorted(set(text))`.
/// The last `heldOutFraction` of the text is held out: training never sees it.
public struct CharCorpus {
    public let text: [Unicode.Scalar]
    public let characters: [String]
    public let trainIds: [Int32]
    public let heldOut: String
    public let heldOutIds: [Int32]

    public static let heldOutFraction = 0.05

    public init(path: String, startMarker: String? = "THE MYSTERIOUS ISLAND",
                endMarker: String? = "End of the Project Gutenberg") throws(SwiftRNNError) {
        let bytes = try FileIO.readAll(path)
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(bytes.count)
        var prevCR = false
        for s in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            if s == "\r" { scalars.append("\n"); prevCR = true; continue }
            if s == "\n" && prevCR { prevCR = false; continue }
            prevCR = false
            scalars.append(s)
        }
        func find(_ marker: String) -> Int? {
            let m = Array(marker.unicodeScalars)
            guard !m.isEmpty, m.count <= scalars.count else { return nil }
            for i in 0...(scalars.count - m.count) where scalars[i] == m[0] && Array(scalars[i..<(i + m.count)]) == m { return i }
            return nil
        }
        // Like the book's str.find: a missing marker is an error here rather than -1.
        var start = 0, end = scalars.count
        if let startMarker {
            guard let s = find(startMarker) else { throw .init(.invalidArgument, "'\(startMarker)' not found in \(path)") }
            start = s
        }
        if let endMarker {
            guard let e = find(endMarker) else { throw .init(.invalidArgument, "'\(endMarker)' not found in \(path)") }
            end = e
        }
        guard end - start >= 100 else { throw .init(.invalidArgument, "the text between the markers is too short (\(max(0, end - start)) characters)") }
        text = Array(scalars[start..<end])
        let set = Set(text.map(\.value)).sorted()
        characters = set.map { String(Unicode.Scalar($0)!) }
        var index: [UInt32: Int32] = [:]
        for (k, v) in set.enumerated() { index[v] = Int32(k) }
        let ids = text.map { index[$0.value]! }
        let cut = Int(Double(ids.count) * (1 - CharCorpus.heldOutFraction))
        trainIds = Array(ids[..<cut])
        heldOutIds = Array(ids[cut...])
        var h = ""
        h.unicodeScalars.append(contentsOf: text[cut...])
        heldOut = h
    }
}

/// The word corpus of a language model (issue 14): reviews tokenized by the book's tokenizer,
/// each followed by `<eos>`, in a seeded order, as one stream of ids; the vocabulary is the
/// `vocabularySize` most frequent tokens of those reviews (with `<pad>`, `<unk>`, `<eos>`).
/// Held-out reviews (the test split: never trained on) measure perplexity.
public struct WordCorpus {
    public let vocabulary: Vocabulary
    public let trainIds: [Int32]
    public let heldOut: [String]

    /// `vocabulary`: an existing one (resuming: the checkpoint's), else built from `train`.
    public init(train: [String], heldOut: [String], vocabularySize: Int, vocabulary existing: [String]? = nil,
                seed: UInt64, threads: Int) throws(SwiftRNNError) {
        guard !train.isEmpty else { throw .invalid("no training reviews") }
        guard vocabularySize >= 4 else { throw .invalid("the vocabulary needs at least 4 entries (<pad>, <unk>, <eos> and a token)") }
        let eos = WordLanguageModel.endOfReviewToken
        if let existing {
            vocabulary = try Vocabulary(tokens: existing)
        } else {
            let built = Vocabulary.build(from: train, maxTokens: vocabularySize - 3)
            vocabulary = try Vocabulary(tokens: built.tokens.filter { $0 != eos } + [eos])
        }
        guard let eosId = vocabulary.tokens.firstIndex(of: eos) else { throw .format("the vocabulary has no \(eos)") }
        var order = Array(train.indices)
        var rng = RandomSource(seed: seed &* 0x5851_F42D &+ 7)
        shuffle(&order, &rng)
        let v = vocabulary
        let encoded = Parallel.map(count: train.count, threads: threads) { v.encode(train[order[$0]]) }
        var ids: [Int32] = []
        ids.reserveCapacity(encoded.reduce(0) { $0 + $1.count + 1 })
        for e in encoded { ids += e; ids.append(Int32(eosId)) }
        trainIds = ids
        self.heldOut = heldOut
    }
}
