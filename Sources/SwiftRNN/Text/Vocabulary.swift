/// Token -> index for sentiment models: `<pad>` = 0, `<unk>` = 1, then the training tokens by
/// descending frequency (ties in order of first occurrence, as `Counter` + a stable sort give).
public struct Vocabulary: Sendable {
    public static let padIndex: Int32 = 0
    public static let unknownIndex: Int32 = 1

    public let tokens: [String]
    private let index: [TokenKey: Int32]

    public var count: Int { tokens.count }

    /// Validates the list read from a model file.
    public init(tokens: [String]) throws(SwiftRNNError) {
        guard tokens.count >= 2, tokens[0] == "<pad>", tokens[1] == "<unk>" else {
            throw .format("vocabulary must start with \"<pad>\", \"<unk>\"")
        }
        var idx: [TokenKey: Int32] = [:]
        idx.reserveCapacity(tokens.count)
        for (k, t) in tokens.enumerated() {
            let key = TokenKey(t)
            if let first = idx.updateValue(Int32(k), forKey: key) {
                throw .format("vocabulary has the token \"\(t)\" twice (at \(first) and \(k))")
            }
        }
        self.tokens = tokens
        self.index = idx
    }

    /// Builds the book's vocabulary from tokenized texts.
    public static func build<S: Sequence>(from texts: S, maxTokens: Int? = nil) -> Vocabulary
    where S.Element == String {
        let ranked = rankedCounts(texts).map { String(decoding: $0.token, as: UTF8.self) }
        let kept = maxTokens.map { Array(ranked.prefix($0)) } ?? ranked
        return try! Vocabulary(tokens: ["<pad>", "<unk>"] + kept.filter { $0 != "<pad>" && $0 != "<unk>" })
    }

    /// Every token of `texts` with its count, by descending count; ties in order of first
    /// occurrence (as `Counter` + a stable sort give). The vocabulary's order, and word
    /// vectors' (`train wordvec`).
    public static func rankedCounts<S: Sequence>(_ texts: S) -> [(token: [UInt8], count: Int)]
    where S.Element == String {
        var counts: [[UInt8]: Int] = [:]
        var first: [[UInt8]] = []
        for text in texts {
            Tokenizer.forEachToken(text) { tok in
                let key = Array(tok)
                if let c = counts[key] { counts[key] = c + 1 } else { counts[key] = 1; first.append(key) }
            }
        }
        // Stable sort by descending count: `first` is in order of first occurrence.
        return first.enumerated().map { (offset: $0.offset, token: $0.element, count: counts[$0.element]!) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.offset < $1.offset }
            .map { (token: $0.token, count: $0.count) }
    }

    public func id(_ token: ArraySlice<UInt8>) -> Int32 {
        index[TokenKey(String(decoding: token, as: UTF8.self))] ?? Vocabulary.unknownIndex
    }

    /// The ids of `text`'s tokens.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        Tokenizer.forEachToken(text) { ids.append(id($0)) }
        return ids
    }
}

/// A token as a dictionary key compared by its UTF-8 bytes (code points, as Python compares),
/// not by Swift's canonical equivalence, and without allocating: short strings live inline.
struct TokenKey: Hashable, Sendable {
    let text: String
    init(_ text: String) { self.text = text }
    static func == (a: TokenKey, b: TokenKey) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }
    func hash(into h: inout Hasher) {
        var t = text
        t.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Character <-> index for character models: the table in the model file (the book uses
/// `sorted(set(text))`), one Unicode scalar per entry.
public struct CharacterTable: Sendable {
    public let characters: [Unicode.Scalar]
    private let ascii: [Int32]                // 128 entries, -1 when absent
    private let others: [UInt32: Int32]

    public var count: Int { characters.count }
    /// The longest UTF-8 encoding of any character in the table (1 for an ASCII table).
    public var maxUTF8Length: Int { characters.map { UTF8.width($0) }.max() ?? 1 }

    public init(entries: [String]) throws(SwiftRNNError) {
        var chars: [Unicode.Scalar] = []
        var ascii = [Int32](repeating: -1, count: 128)
        var others: [UInt32: Int32] = [:]
        for (k, e) in entries.enumerated() {
            let scalars = Array(e.unicodeScalars)
            guard scalars.count == 1 else {
                throw .format("character table entry \(k) (\(JSONWriter.quote(e))) is not exactly one character")
            }
            let s = scalars[0]
            let dup = s.value < 128 ? ascii[Int(s.value)] >= 0 : others[s.value] != nil
            guard !dup else { throw .format("character table has \(JSONWriter.quote(e)) twice") }
            if s.value < 128 { ascii[Int(s.value)] = Int32(k) } else { others[s.value] = Int32(k) }
            chars.append(s)
        }
        self.characters = chars
        self.ascii = ascii
        self.others = others
    }

    public func id(_ s: Unicode.Scalar) -> Int32? {
        if s.value < 128 { let v = ascii[Int(s.value)]; return v >= 0 ? v : nil }
        return others[s.value]
    }

    /// The ids of every scalar of `text`; an unknown character is an error that names it.
    public func encode(_ text: String) throws(SwiftRNNError) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count)
        for (k, s) in text.unicodeScalars.enumerated() {
            guard let id = id(s) else {
                throw .invalid("character \(Self.describe(s)) at position \(k) is not in the model's character table")
            }
            ids.append(id)
        }
        return ids
    }

    static func describe(_ s: Unicode.Scalar) -> String {
        let hex = String(s.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        return s.properties.generalCategory == .control || s.value == 0x20 ? code : "'\(s)' (\(code))"
    }
}
