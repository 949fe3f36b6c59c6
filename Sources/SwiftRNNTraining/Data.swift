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
