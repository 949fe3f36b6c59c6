import SwiftRNN

/// Word vectors in the text format word2vec, fastText (`.vec`) and GloVe write: one line per
/// word, the word then its numbers, separated by spaces; word2vec and fastText put a
/// "COUNT DIM" line first, GloVe does not. `swiftrnn train wordvec` writes this format too.
///
/// They start a classifier's embedding (`train sentiment --init-embedding`): vectors learned
/// from unlabeled text give the words the labelled reviews rarely show a meaning before
/// training starts (issue 14).
public struct WordVectors {
    public var dim: Int
    /// The vectors of the requested words only (a GloVe file holds millions of words), keyed
    /// by their UTF-8 bytes: words match as the vocabulary matches tokens, byte for byte (a
    /// Swift `String` key would equate canonically equivalent spellings).
    public var vectors: [[UInt8]: [Float]]
    /// How many words the file held.
    public var fileWords: Int
    /// The words in file order: the order `save` writes them (`train wordvec`: by descending
    /// count) and, after `load` of every word (`wanted` nil), the order they were read in.
    public var order: [[UInt8]] = []

    public init(dim: Int, vectors: [[UInt8]: [Float]], fileWords: Int) {
        self.dim = dim; self.vectors = vectors; self.fileWords = fileWords
    }

    /// Writes the words of `order` in word2vec's text format ("COUNT DIM", then a line per
    /// word); numbers in Swift's shortest form that reads back to the same float.
    public func save(to path: String) throws(SwiftRNNError) {
        var out: [UInt8] = Array("\(order.count) \(dim)\n".utf8)
        for w in order {
            guard let v = vectors[w] else { continue }
            out += w
            for x in v { out.append(32); out += Array("\(x)".utf8) }
            out.append(10)
        }
        try FileIO.writeAtomically(out, to: path)
    }

    /// Reads `path`, keeping the vectors of `wanted` (every word if nil). Every malformed line
    /// is an error with its line number: a silently skipped line would be a silently random row.
    public static func load(path: String, wanted: Set<[UInt8]>?) throws(SwiftRNNError) -> WordVectors {
        let bytes = try FileIO.readAll(path)
        var out = WordVectors(dim: 0, vectors: [:], fileWords: 0)
        var lineNo = 0
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 10 { end += 1 }
            lineNo += 1
            var line = bytes[start..<end]
            start = end + 1
            if line.last == 13 { line = line.dropLast() }
            let fields = line.split(separator: 32, omittingEmptySubsequences: true)
            if fields.isEmpty { continue }
            if lineNo == 1 && fields.count == 2, Int(String(decoding: fields[0], as: UTF8.self)) != nil,
               Int(String(decoding: fields[1], as: UTF8.self)) != nil {
                continue  // word2vec's "COUNT DIM" header
            }
            guard fields.count >= 2 else {
                throw .init(.format, "\(path):\(lineNo): a word without numbers (expected 'word x1 x2 ...')")
            }
            let d = fields.count - 1
            if out.dim == 0 {
                guard d <= 4096 else { throw .init(.format, "\(path):\(lineNo): \(d) numbers per word; at most 4096") }
                out.dim = d
            } else if d != out.dim {
                throw .init(.format, "\(path):\(lineNo): \(d) numbers where the lines before have \(out.dim)")
            }
            out.fileWords += 1
            let word = Array(fields[0])
            if wanted == nil && out.vectors[word] == nil { out.order.append(word) }
            guard wanted?.contains(word) ?? true, out.vectors[word] == nil else { continue }
            var v = [Float](repeating: 0, count: d)
            for k in 0..<d {
                guard let x = Float(String(decoding: fields[k + 1], as: UTF8.self)), x.isFinite else {
                    throw .init(.format, "\(path):\(lineNo): number \(k + 1) of '\(String(decoding: word, as: UTF8.self))' is not a finite number")
                }
                v[k] = x
            }
            out.vectors[word] = v
        }
        guard out.dim > 0 else { throw .init(.format, "\(path): no word vectors in the file") }
        return out
    }

    /// `embedding` (rows x dim, row i the vector of `tokens[i]`) with the rows of the tokens
    /// this file has replaced by their vectors, scaled so that their root mean square is that
    /// of the rows they replace. Why the scale: the recipe's learning rate and initialization
    /// were tuned for PyTorch's N(0, 1) embedding; word2vec's numbers are several times smaller, and
    /// the rows of words the file lacks keep their random start, so one scale serves all rows.
    /// `<pad>` (row 0) keeps its row. Returns how many rows came from the file.
    public func initialize(_ embedding: inout FloatBuffer, tokens: [String]) throws(SwiftRNNError) -> Int {
        let E = embedding.count / max(tokens.count, 1)
        guard E == dim else {
            throw .init(.invalidArgument, "the word vectors have \(dim) numbers per word; the model's embedding has \(E) (--embedding)")
        }
        let keys = tokens.map { Array($0.utf8) }
        let rows = tokens.indices.dropFirst().filter { vectors[keys[$0]] != nil }
        guard !rows.isEmpty else { return 0 }
        var vecSq = 0.0, embSq = 0.0
        for r in rows {
            for (k, x) in vectors[keys[r]]!.enumerated() { vecSq += Double(x * x); embSq += Double(embedding[r * E + k] * embedding[r * E + k]) }
        }
        let scale = vecSq > 0 ? Float((embSq / vecSq).squareRoot()) : 1
        for r in rows {
            for (k, x) in vectors[keys[r]]!.enumerated() { embedding[r * E + k] = x * scale }
        }
        return rows.count
    }
}
