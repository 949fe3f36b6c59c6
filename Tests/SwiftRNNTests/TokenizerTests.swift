import Foundation
import XCTest
@testable import SwiftRNN

final class TokenizerTests: XCTestCase {
    func testEveryFixtureCaseMatchesPython() throws {
        let cases = try XCTUnwrap(readJSON("tokenizer.json") as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 30)
        for c in cases {
            let text = c["text"] as! String
            // Compare as code-point arrays: Swift's String == would equate canonical equivalents.
            let mine = Tokenizer.tokenizeToStrings(text).map { Array($0.unicodeScalars) }
            let want = (c["tokens"] as! [String]).map { Array($0.unicodeScalars) }
            XCTAssertEqual(mine, want, "tokens of \(text.debugDescription)")
        }
    }

    func testVocabularyOrderMatchesCounterAndStableSort() throws {
        let obj = try readJSON("vocab_cases.json")
        let cases: [[String: Any]] = (obj as? [[String: Any]]) ?? [obj as! [String: Any]]
        for c in cases {
            let vocab = Vocabulary.build(from: c["corpus"] as! [String])
            XCTAssertEqual(vocab.tokens.map { Array($0.unicodeScalars) },
                           (c["vocab"] as! [String]).map { Array($0.unicodeScalars) })
        }
    }

    func testBookQuirks() {
        XCTAssertEqual(Tokenizer.tokenizeToStrings("fun :) really"), ["fun", "really:)"])
        XCTAssertEqual(Tokenizer.tokenizeToStrings("fun :-) "), ["fun", ":)"])
        XCTAssertEqual(Tokenizer.tokenizeToStrings(":D"), ["d"])  // lowercased before matching
        XCTAssertEqual(Tokenizer.tokenizeToStrings("a <b>bold</b> move"), ["a", "bold", "move"])
        XCTAssertEqual(Tokenizer.tokenizeToStrings("1 < 2 and"), ["1", "2", "and"])
        XCTAssertEqual(Tokenizer.tokenizeToStrings(""), [])
    }

    /// The ASCII fast path gives the general path's tokens on random texts built from the
    /// characters that matter: tags, emoticon parts, case, digits, `_`, punctuation, spaces.
    func testASCIIFastPathEqualsTheGeneralPath() {
        let alphabet = Array("aZ9_ <>:;=-()DPp!.,'\"\n\tHTMLbr/xq")
        var rng = RandomSource(seed: 21)
        for round in 0..<3000 {
            let n = Int(rng.next() % 60)
            let text = String((0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            var fast: [[UInt8]] = [], slow: [[UInt8]] = []
            var t = text
            t.withUTF8 { b in Tokenizer.forEachTokenASCII(b) { fast.append(Array($0)) } }
            Tokenizer.forEachTokenScalars(text) { slow.append(Array($0)) }
            XCTAssertEqual(fast, slow, "round \(round): \(text.debugDescription)")
        }
    }
}
