/// The tokenizer of the book (Raschka et al., ch. 15), exactly as Python runs it:
///
/// ```python
/// text = re.sub('<[^>]*>', '', text)
/// emoticons = re.findall('(?::|;|=)(?:-)?(?:\)|\(|D|P)', text.lower())
/// text = re.sub('[\W]+', ' ', text.lower()) + ' '.join(emoticons).replace('-', '')
/// tokenized = text.split()
/// ```
///
/// Python strings are sequences of code points, so this works on Unicode scalars, not Swift
/// `Character`s. Python's `\W` (str patterns) is "not alphanumeric and not `_`", where
/// alphanumeric means a letter (general category L*) or a character with a numeric value;
/// `lower()` is full Unicode lowercasing with the final-sigma rule. Quirks kept on purpose:
/// emoticons are appended with no space after the last word (so "fun :) really" gives
/// "really:)"), and `:D`/`:P` never match because the text is lowercased first.
///
/// Tokens are returned as UTF-8 bytes: vocabulary lookups then compare code points as Python
/// does (Swift's `String ==` would also equate canonically equivalent spellings).
public enum Tokenizer {
    public static func tokenize(_ text: String) -> [[UInt8]] {
        var tokens: [[UInt8]] = []
        forEachToken(text) { tokens.append(Array($0)) }
        return tokens
    }

    public static func tokenizeToStrings(_ text: String) -> [String] {
        tokenize(text).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with each token's UTF-8 bytes, in order.
    public static func forEachToken(_ text: String, _ body: (ArraySlice<UInt8>) -> Void) {
        var text = text
        let done = text.withUTF8 { bytes -> Bool in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return false }
            forEachTokenASCII(bytes, body)
            return true
        }
        if !done { forEachTokenScalars(text, body) }
    }

    /// The same steps on ASCII bytes (most reviews): no arrays of scalars, no Unicode tables.
    /// `TokenizerTests` checks it against `forEachTokenScalars` on random ASCII texts.
    static func forEachTokenASCII(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (ArraySlice<UInt8>) -> Void) {
        // re.sub('<[^>]*>', '', text) and lower() in one pass.
        var lower = [UInt8]()
        lower.reserveCapacity(bytes.count)
        var i = 0, close = -1
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b == UInt8(ascii: "<") {
                if close < i {
                    close = i + 1
                    while close < n && bytes[close] != UInt8(ascii: ">") { close += 1 }
                }
                if close < n { i = close + 1; continue }
            }
            lower.append(b >= 65 && b <= 90 ? b + 32 : b)
            i += 1
        }
        var current: [UInt8] = []
        func flush() {
            if !current.isEmpty { body(current[...]); current.removeAll(keepingCapacity: true) }
        }
        for b in lower {
            if (b >= 48 && b <= 57) || (b >= 97 && b <= 122) || b == 95 { current.append(b) } else { flush() }
        }
        // The emoticons (see `findEmoticons`), the first glued onto a trailing word.
        func isMouth(_ c: UInt8) -> Bool { c == 0x29 || c == 0x28 || c == 0x44 || c == 0x50 }  // ) ( D P
        var k = 0, found = 0
        while k < lower.count {
            let c = lower[k]
            if c == UInt8(ascii: ":") || c == UInt8(ascii: ";") || c == UInt8(ascii: "=") {
                var mouth: UInt8? = nil, len = 0
                if k + 2 < lower.count, lower[k + 1] == UInt8(ascii: "-"), isMouth(lower[k + 2]) { mouth = lower[k + 2]; len = 3 }
                else if k + 1 < lower.count, isMouth(lower[k + 1]) { mouth = lower[k + 1]; len = 2 }
                if let mouth {
                    if found > 0 { flush() }
                    current.append(c); current.append(mouth)
                    found += 1; k += len; continue
                }
            }
            k += 1
        }
        flush()
    }

    /// The general path, on Unicode scalars.
    static func forEachTokenScalars(_ text: String, _ body: (ArraySlice<UInt8>) -> Void) {
        let stripped = stripTags(Array(text.unicodeScalars))
        let lower = lowercase(stripped)
        let emoticons = findEmoticons(lower)

        // re.sub('[\W]+', ' ', lower) + ' '.join(emoticons).replace('-', ''), then split():
        // the words are the maximal runs of word characters; the first emoticon glues onto a
        // word that ends the text.
        var current: [UInt8] = []
        func flush() {
            if !current.isEmpty { body(current[...]); current.removeAll(keepingCapacity: true) }
        }
        for s in lower {
            if isWord(s) {
                appendUTF8(s, to: &current)
            } else {
                flush()
            }
        }
        // `current` is the trailing word (if the text ends in a word character): the joined
        // emoticon string continues it.
        for (k, e) in emoticons.enumerated() {
            if k > 0 { flush() }
            for s in e where s != "-" { appendUTF8(s, to: &current) }
        }
        flush()
    }

    @inline(__always)
    static func appendUTF8(_ s: Unicode.Scalar, to out: inout [UInt8]) {
        if s.value < 0x80 { out.append(UInt8(s.value)); return }
        out.append(contentsOf: UTF8.encode(s)!)
    }

    /// `re.sub('<[^>]*>', '', text)`: a '<' starts a tag only if a '>' follows somewhere.
    static func stripTags(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("<") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        var close = -1  // the first '>' at or after i; s.count when there is none
        while i < s.count {
            if s[i] == "<" {
                if close < i { close = s[i...].firstIndex(of: ">") ?? s.count }
                if close < s.count { i = close + 1; continue }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// `re.findall('(?::|;|=)(?:-)?(?:\)|\(|D|P)', lower)`.
    static func findEmoticons(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var found: [[Unicode.Scalar]] = []
        var i = 0
        func isMouth(_ c: Unicode.Scalar) -> Bool { c == ")" || c == "(" || c == "D" || c == "P" }
        while i < s.count {
            let c = s[i]
            if c == ":" || c == ";" || c == "=" {
                if i + 2 < s.count, s[i + 1] == "-", isMouth(s[i + 2]) {
                    found.append([c, "-", s[i + 2]]); i += 3; continue
                }
                if i + 1 < s.count, isMouth(s[i + 1]) {
                    found.append([c, s[i + 1]]); i += 2; continue
                }
            }
            i += 1
        }
        return found
    }

    /// Python's `str.lower()`: the full lowercase mapping of each code point, except that a
    /// capital sigma becomes final sigma at the end of a word.
    static func lowercase(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            if c.value < 0x80 {
                out.append(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c)
            } else if c == "\u{03A3}" {
                out.append(isFinalSigma(s, i) ? "\u{03C2}" : "\u{03C3}")
            } else {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// CPython's rule (Objects/unicodeobject.c, handle_capital_sigma): preceded by a cased
    /// letter and not followed by one, skipping case-ignorable characters both ways.
    static func isFinalSigma(_ s: [Unicode.Scalar], _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0, s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, s[j].properties.isCased else { return false }
        j = i + 1
        while j < s.count, s[j].properties.isCaseIgnorable { j += 1 }
        return j == s.count || !s[j].properties.isCased
    }

    /// Python's `\w` for str patterns: `_`, or `str.isalnum()` (a letter of category L*, or a
    /// character with a numeric value: decimal, digit or numeric).
    @inline(__always)
    public static func isWord(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return (v >= 48 && v <= 57) || (v >= 65 && v <= 90) || (v >= 97 && v <= 122) || v == 95
        }
        let p = s.properties
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return p.numericType != nil
        }
    }
}
