import Testing
@testable import SwiftRNN

/// The strict JSON reader of safetensors headers (Swift Testing; the rest of the suite is XCTest).
struct JSONTests {
    @Test func roundTripsEscapesAndSurrogates() throws {
        let text = #"{"a":"x\"y\\z\n\u00e9\ud83d\ude00","b":[1,2.5e3,-0,true,false,null],"c":{}}"#
        guard case let .object(m) = try JSONParser.parse(text) else { Issue.record("not an object"); return }
        #expect(m.map(\.key) == ["a", "b", "c"])
        #expect(m[0].value == .string("x\"y\\z\né😀"))
        #expect(m[1].value == .array([.number("1"), .number("2.5e3"), .number("-0"), .bool(true), .bool(false), .null]))
    }

    @Test func integersAreExact() throws {
        #expect(try JSONParser.parse("18446744073709551615").uint64 == UInt64.max)
        #expect(try JSONParser.parse("18446744073709551616").uint64 == nil)
        #expect(try JSONParser.parse("1.0").uint64 == nil)
        #expect(try JSONParser.parse("-1").uint64 == nil)
    }

    @Test(arguments: ["", "{", "{\"a\"}", "[1,]", "{\"a\":1,\"a\":2}", "\"\\ud800\"", "01x", "nul", "\"\u{1}\""])
    func refusesMalformedInput(_ text: String) {
        #expect(throws: SwiftRNNError.self) { try JSONParser.parse(text) }
    }

    @Test func writerQuotesWhatTheReaderReads() throws {
        let s = "tab\t quote\" back\\ nl\n ctl\u{1} é"
        #expect(try JSONParser.parse(JSONWriter.quote(s)) == .string(s))
    }
}
