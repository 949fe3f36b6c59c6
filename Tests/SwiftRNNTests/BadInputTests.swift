import Foundation
import XCTest
@testable import SwiftRNN

/// Every row of docs/bad-input.md that concerns model files: each hostile or broken file gets a
/// typed error with a message naming the problem, never a crash.
final class BadInputTests: XCTestCase {
    /// A valid small model's bytes, its header as JSON, and its data section.
    struct Parts {
        var header: [(key: String, value: JSONValue)]
        var data: [UInt8]
    }

    static let valid: [UInt8] = makeModel(kind: .sentiment, cell: .lstm, layers: 1, bidirectional: true).serialize()

    func parts() throws -> Parts {
        let bytes = Self.valid
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let json = try bytes[8..<(8 + n)].withUnsafeBytes { try JSONParser.parse($0) }
        guard case let .object(members) = json else { throw SwiftRNNError.format("no object") }
        return Parts(header: members, data: Array(bytes[(8 + n)...]))
    }

    static func text(_ v: JSONValue) -> String {
        switch v {
        case let .object(m): return "{" + m.map { JSONWriter.quote($0.key) + ":" + text($0.value) }.joined(separator: ",") + "}"
        case let .array(a): return "[" + a.map(text).joined(separator: ",") + "]"
        case let .string(s): return JSONWriter.quote(s)
        case let .number(n): return n
        case let .bool(b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    static func file(headerText: String, data: [UInt8], length: UInt64? = nil) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(headerText.utf8.count)).littleEndian) { out.append(contentsOf: $0) }
        out += Array(headerText.utf8) + data
        return out
    }

    func load(_ bytes: [UInt8]) throws -> Model {
        try bytes.withUnsafeBytes { try Model.load(bytes: $0) }
    }

    /// Rebuilds the file after `edit` changes the header members.
    func loadEdited(_ edit: (inout [(key: String, value: JSONValue)]) -> Void, data: (([UInt8]) -> [UInt8])? = nil) throws -> Model {
        var p = try parts()
        edit(&p.header)
        let d = data?(p.data) ?? p.data
        return try load(Self.file(headerText: Self.text(.object(p.header)), data: d))
    }

    func setMeta(_ key: String, _ value: String?) -> (inout [(key: String, value: JSONValue)]) -> Void {
        { h in
            guard let i = h.firstIndex(where: { $0.key == "__metadata__" }), case var .object(m) = h[i].value else { return }
            m.removeAll { $0.key == key }
            if let value { m.append((key, .string(value))) }
            h[i].value = .object(m)
        }
    }

    func setTensor(_ name: String, _ field: String, _ value: JSONValue) -> (inout [(key: String, value: JSONValue)]) -> Void {
        { h in
            guard let i = h.firstIndex(where: { $0.key == name }), case var .object(f) = h[i].value else { return }
            if let k = f.firstIndex(where: { $0.key == field }) { f[k].value = value } else { f.append((field, value)) }
            h[i].value = .object(f)
        }
    }

    func offsets(_ name: String) throws -> (Int, Int) {
        let p = try parts()
        guard case let .object(f)? = p.header.first(where: { $0.key == name })?.value,
              case let .array(o)? = f.first(where: { $0.key == "data_offsets" })?.value else { throw SwiftRNNError.format("?") }
        return (Int(o[0].uint64!), Int(o[1].uint64!))
    }

    func testTheValidFileLoads() throws {
        XCTAssertNoThrow(try load(Self.valid))
        XCTAssertNoThrow(try loadEdited { _ in })
    }

    func testTruncatedAtEveryOffset() {
        for cut in 0..<Self.valid.count {
            assertThrows(.format, "") { try load(Array(Self.valid[0..<cut])) }
        }
    }

    func testHeaderLength() {
        var b = Self.valid
        b[0..<8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        assertThrows(.format, "exceeds the limit") { try load(b) }
        let n = UInt64(SafeTensors.maxHeaderSize - 8)
        withUnsafeBytes(of: n.littleEndian) { for k in 0..<8 { b[k] = $0[k] } }
        assertThrows(.format, "runs past the end") { try load(b) }
        assertThrows(.format, "too short") { try load([1, 2, 3]) }
        assertThrows(.format, "too small") { try load(Self.file(headerText: "", data: [])) }
    }

    /// A minimal zip archive (stored entries, CRCs not computed: the loader does not read them).
    static func zip(_ entries: [(name: String, data: [UInt8])], centralDirectory: Bool = true) -> [UInt8] {
        func le(_ v: Int, _ n: Int) -> [UInt8] { (0..<n).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        var out: [UInt8] = [], central: [UInt8] = []
        for e in entries {
            let name = Array(e.name.utf8)
            let local = out.count
            out += le(0x0403_4B50, 4) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4)
                + le(e.data.count, 4) + le(e.data.count, 4) + le(name.count, 2) + le(0, 2) + name + e.data
            central += le(0x0201_4B50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4)
                + le(e.data.count, 4) + le(e.data.count, 4) + le(name.count, 2) + le(0, 2) + le(0, 2) + le(0, 2)
                + le(0, 2) + le(0, 4) + le(local, 4) + name
        }
        guard centralDirectory else { return out }
        let cd = out.count
        out += central + le(0x0605_4B50, 4) + le(0, 2) + le(0, 2) + le(entries.count, 2) + le(entries.count, 2)
            + le(central.count, 4) + le(cd, 4) + le(0, 2)
        return out
    }

    /// Files that are something else entirely are named as such before any byte is read as a
    /// header length (README.md used to get "header length 7599669762723684387 exceeds the limit").
    func testNotSafetensorsFiles() throws {
        let notST = "not a safetensors model file"
        let torch = "not a safetensors model file: a PyTorch checkpoint; convert it with python -m swiftrnn.export"
        // The repository's own README.md, through the path loader.
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md").path
        assertThrows(.format, "\(notST): text (starting \"# libswiftrnn\")") { try Model.load(path: readme) }
        // README.md-like text, with and without a '{' where a header would begin.
        assertThrows(.format, "\(notST): text") { try load(Array("# libswiftrnn\n\nAn embeddable LSTM/GRU/RNN runtime: a Swift core.\n".utf8)) }
        assertThrows(.format, "\(notST): text (starting \"abcdefgh{\"a\": 1}\")") { try load(Array("abcdefgh{\"a\": 1}\n".utf8)) }
        assertThrows(.format, "\(notST): text") { try load(Array("\u{FEFF}Unicode text, déjà vu: \u{1F600}\r\n".utf8)) }
        assertThrows(.format, "\(notST): text") { try load(Array("short".utf8)) }
        // HTML (a download that got an error page) and XML.
        assertThrows(.format, "\(notST): an HTML page") {
            try load(Array("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not found</body></html>\n".utf8))
        }
        assertThrows(.format, "\(notST): an HTML page") { try load(Array("\n  <HTML><body>hi</body></HTML>".utf8)) }
        assertThrows(.format, "\(notST): HTML or XML text") { try load(Array("<?xml version=\"1.0\"?><a/>".utf8)) }
        // Zip archives: any, and PyTorch's (torch.save: archive/data.pkl, archive/data/0, ...).
        assertThrows(.format, "\(notST): a zip archive") { try load(Self.zip([("hello.txt", Array("hello".utf8))])) }
        assertThrows(.format, "\(notST): a zip archive") { try load(Self.zip([])) }
        let pt = Self.zip([("archive/data.pkl", [0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]), ("archive/data/0", [UInt8](repeating: 0, count: 64)),
                           ("archive/version", Array("3\n".utf8))])
        assertThrows(.format, torch) { try load(pt) }
        assertThrows(.format, torch) { try load(Self.zip([("model/version", [0x33]), ("model/data.pkl", [0x80, 0x02, 0x2E])])) }
        // Cut short (no central directory): the first entry's name still tells.
        assertThrows(.format, torch) { try load(Self.zip([("archive/data.pkl", [0x80, 0x02, 0x2E])], centralDirectory: false)) }
        assertThrows(.format, torch) { try load(Array(pt[0..<60])) }
        // Legacy torch.save (a pickle stream; PyTorch's magic number follows) and plain pickles.
        for proto: UInt8 in 2...5 {
            assertThrows(.format, torch) { try load([0x80, proto, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19] + [UInt8](repeating: 0x2E, count: 100)) }
        }
        assertThrows(.format, torch) { try load([0x80, 0x04, 0x95]) }
        // Other things that are not safetensors.
        assertThrows(.format, "\(notST): a gzip-compressed file") { try load([0x1F, 0x8B, 0x08, 0x00] + [UInt8](repeating: 0, count: 60)) }
        assertThrows(.format, "\(notST): byte 8 is 0x00, not the '{'") { try load([UInt8](repeating: 0, count: 64)) }
        assertThrows(.format, "\(notST): byte 8 is 0x5B") { try load(Self.file(headerText: "[1,2,3]", data: [])) }
        // A genuine header with a '{' and a corrupt length still gets the length message.
        var b = Self.valid
        b[0..<8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        assertThrows(.format, "exceeds the limit") { try load(b) }
        XCTAssertNoThrow(try load(Self.valid))
    }

    func testNonJSONHeaders() {
        for h in ["not json at all", "{\"a\":", "[1,2,3]", "{\"a\":1} extra", "{\"k\":\"\\ud800\"}", "{\"k\":tru}", "{\"k\":01x}"] {
            assertThrows(.format, "") { try load(Self.file(headerText: h, data: [])) }
        }
        // Invalid UTF-8 inside a string.
        var bytes = Self.file(headerText: "{\"a\":\"xx\"}", data: [])
        bytes[14] = 0xFF
        assertThrows(.format, "UTF-8") { try load(bytes) }
        // Nesting bomb (inside an object: a header that does not begin with '{' is refused earlier).
        assertThrows(.format, "nested deeper") { try load(Self.file(headerText: "{\"a\":" + String(repeating: "[", count: 100_000), data: [])) }
    }

    func testDuplicateKeys() throws {
        assertThrows(.format, "duplicate key") {
            try loadEdited { h in h.append(h[1]) }
        }
        assertThrows(.format, "duplicate key") {
            try load(Self.file(headerText: "{\"__metadata__\":{\"kind\":\"a\",\"kind\":\"b\"}}", data: []))
        }
    }

    func testOffsets() throws {
        let (b0, e0) = try offsets("embedding.weight")
        let (b1, e1) = try offsets("rnn.weight_ih_l0")
        assertThrows(.format, "overlap") {
            try loadEdited(setTensor("rnn.weight_ih_l0", "data_offsets", .array([.number(String(b0)), .number(String(b0 + e1 - b1))])))
        }
        assertThrows(.format, "run past the data section") {
            try loadEdited(setTensor("embedding.weight", "data_offsets", .array([.number("100000000"), .number(String(100_000_000 + e0 - b0))])))
        }
        assertThrows(.format, "not aligned") {
            try loadEdited(setTensor("embedding.weight", "data_offsets", .array([.number(String(b0 + 1)), .number(String(e0 + 1))])))
        }
        assertThrows(.format, "reversed") {
            try loadEdited(setTensor("embedding.weight", "data_offsets", .array([.number(String(e0)), .number(String(b0))])))
        }
        assertThrows(.format, "data_offsets must be") {
            try loadEdited(setTensor("embedding.weight", "data_offsets", .array([.number("-1"), .number("4")])))
        }
        assertThrows(.format, "data_offsets must be") {
            try loadEdited(setTensor("embedding.weight", "data_offsets", .array([.number("18446744073709551616"), .number("4")])))
        }
    }

    func testShapes() throws {
        assertThrows(.format, "bytes of data for shape") {
            try loadEdited(setTensor("embedding.weight", "shape", .array([.number("8"), .number("7")])))
        }
        assertThrows(.format, "overflows") {
            try loadEdited(setTensor("embedding.weight", "shape", .array([.number("2147483647"), .number("2147483647"), .number("2147483647"), .number("2147483647")])))
        }
        assertThrows(.format, "shape entries") {
            try loadEdited(setTensor("embedding.weight", "shape", .array([.number("-8"), .number("6")])))
        }
        // A zero-sized dimension: the bytes agree (0) but the config needs [8, 6].
        let (b0, _) = try offsets("embedding.weight")
        assertThrows(.format, "has shape [0, 6], expected [8, 6]") {
            try loadEdited { h in
                self.setTensor("embedding.weight", "shape", .array([.number("0"), .number("6")]))(&h)
                self.setTensor("embedding.weight", "data_offsets", .array([.number(String(b0)), .number(String(b0))]))(&h)
            }
        }
    }

    func testMissingAndExtraTensors() throws {
        assertThrows(.format, "no tensor 'rnn.weight_hh_l0_reverse'") {
            try loadEdited { h in h.removeAll { $0.key == "rnn.weight_hh_l0_reverse" } }
        }
        assertThrows(.format, "does not use: extra.t") {
            try loadEdited({ h in
                h.append(("extra.t", .object([("dtype", .string("F32")), ("shape", .array([.number("1")])),
                                              ("data_offsets", .array([.number(String(Self.dataCount)), .number(String(Self.dataCount + 4))]))])))
            }, data: { $0 + [0, 0, 0, 0] })
        }
        // A bidirectional file declared unidirectional: the reverse tensors are extra.
        assertThrows(.format, "tensor 'fc1.weight' has shape [4, 10], expected [4, 5]") { try loadEdited(setMeta("bidirectional", "false")) }
    }

    static var dataCount: Int {
        let b = valid
        let n = Int(b[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        return b.count - 8 - n
    }

    func testVocabulary() {
        assertThrows(.format, "no 'vocab'") { try loadEdited(setMeta("vocab", nil)) }
        // F9 (issue 12): the message names both positions, not the second one twice.
        assertThrows(.format, "token \"good\" twice (at 2 and 4)") {
            try loadEdited(setMeta("vocab", JSONWriter.array(["<pad>", "<unk>", "good", "bad", "good", "awful", "movie", "the"])))
        }
        assertThrows(.format, "vocabulary has 3 entries but vocab_size is 8") {
            try loadEdited(setMeta("vocab", JSONWriter.array(["<pad>", "<unk>", "good"])))
        }
        assertThrows(.format, "must start with") {
            try loadEdited(setMeta("vocab", JSONWriter.array(["<unk>", "<pad>", "good", "bad", "great", "awful", "movie", "the"])))
        }
        assertThrows(.format, "not a JSON array") { try loadEdited(setMeta("vocab", "{}")) }
        assertThrows(.format, "non-string") { try loadEdited(setMeta("vocab", "[1,2,3,4,5,6,7,8]")) }
    }

    func testDtypes() throws {
        assertThrows(.unsupported, "dtype F64") { try loadEdited(setTensor("embedding.weight", "dtype", .string("F64"))) }
        assertThrows(.unsupported, "dtype Q4_K") { try loadEdited(setTensor("embedding.weight", "dtype", .string("Q4_K"))) }
        // I64 is readable but never a weight. Same byte count: shape halves.
        assertThrows(.format, "weights must be F32") {
            try loadEdited { h in
                self.setTensor("fc2.bias", "dtype", .string("I32"))(&h)
            }
        }
    }

    func testConfigValues() {
        assertThrows(.format, "'num_layers' = \"1000000000000\"") { try loadEdited(setMeta("num_layers", "1000000000000")) }
        assertThrows(.format, "'hidden_size' = \"-5\"") { try loadEdited(setMeta("hidden_size", "-5")) }
        assertThrows(.format, "'embedding_dim' = \"0\"") { try loadEdited(setMeta("embedding_dim", "0")) }
        assertThrows(.format, "'vocab_size' = \"eight\"") { try loadEdited(setMeta("vocab_size", "eight")) }
        assertThrows(.format, "unknown model kind \"translator\"") { try loadEdited(setMeta("kind", "translator")) }
        assertThrows(.format, "unknown cell \"transformer\"") { try loadEdited(setMeta("cell", "transformer")) }
        assertThrows(.format, "no 'kind'") { try loadEdited(setMeta("kind", nil)) }
        assertThrows(.format, "not a libswiftrnn model") { try loadEdited(setMeta("format", nil)) }
        assertThrows(.unsupported, "newer than this library") { try loadEdited(setMeta("format_version", "5")) }
        assertThrows(.format, "'bidirectional' must be") { try loadEdited(setMeta("bidirectional", "yes")) }
        assertThrows(.format, "'head'") { try loadEdited(setMeta("head", "fc1,,fc2")) }
        assertThrows(.format, "'head'") { try loadEdited(setMeta("head", "fc1,fc1")) }
        // A charlm needs a character table of single characters and one head layer.
        assertThrows(.format, "") { try loadEdited(setMeta("kind", "charlm")) }
        assertThrows(.format, "__metadata__ value") {
            try load(Self.file(headerText: "{\"__metadata__\":{\"kind\":1}}", data: []))
        }
    }

    func testNonFiniteWeightsAreRefused() throws {
        let (b0, _) = try offsets("rnn.weight_hh_l0")
        for bits: UInt32 in [0x7FC0_0000, 0x7F80_0000, 0xFF80_0000] {
            assertThrows(.format, "NaN and infinite weights are refused") {
                try loadEdited({ _ in }, data: { d in
                    var d = d
                    withUnsafeBytes(of: bits.littleEndian) { for k in 0..<4 { d[b0 + 4 + k] = $0[k] } }
                    return d
                })
            }
        }
    }

    func testEmptyAndOddTexts() throws {
        guard case let .sentiment(s) = try load(Self.valid) else { return XCTFail() }
        let empty = s.score("")
        XCTAssertEqual(s.score("?!... --- <b></b>"), empty)  // no tokens: scored as [<pad>]
        XCTAssertEqual(s.logit(ids: []), s.logit(ids: [0]))
        XCTAssertTrue((0...1).contains(s.score("nul\u{0}inside")))
        XCTAssertTrue((0...1).contains(s.score(String(repeating: "good ", count: 20_000))))
    }

    func testCharModelInputs() throws {
        let m = makeModel(kind: .charlm)
        guard case let .charlm(lm) = m else { return XCTFail() }
        assertThrows(.invalidArgument, "'#' (U+0023) at position 1") { try Generator(model: lm, prime: "T#", parameters: .init()) }
        assertThrows(.invalidArgument, "prime is empty") { try Generator(model: lm, prime: "", parameters: .init()) }
        assertThrows(.invalidArgument, "scale_factor") { try Generator(model: lm, prime: "T", parameters: .init(scaleFactor: .nan)) }
        assertThrows(.invalidArgument, "scale_factor") { try Generator(model: lm, prime: "T", parameters: .init(scaleFactor: -1)) }
        assertThrows(.invalidArgument, "top_p") { try Generator(model: lm, prime: "T", parameters: .init(topP: 0)) }
        assertThrows(.invalidArgument, "top_k") { try Generator(model: lm, prime: "T", parameters: .init(topK: -1)) }
        XCTAssertEqual(try Generator.sample(model: lm, prime: "Th", count: 0, parameters: .init()), "Th")
        // Greedy ignores scale; extreme scales stay finite.
        XCTAssertNoThrow(try Generator.sample(model: lm, prime: "T", count: 30, parameters: .init(scaleFactor: 1e30)))
        XCTAssertNoThrow(try Generator.sample(model: lm, prime: "T", count: 30, parameters: .init(scaleFactor: 1e-30)))
        let a = try Generator.sample(model: lm, prime: "Th", count: 40, parameters: .init(seed: 5))
        let b = try Generator.sample(model: lm, prime: "Th", count: 40, parameters: .init(seed: 5))
        XCTAssertEqual(a, b)
        let g1 = try Generator.sample(model: lm, prime: "Th", count: 40, parameters: .init(greedy: true))
        let k1 = try Generator.sample(model: lm, prime: "Th", count: 40, parameters: .init(topK: 1, seed: 9))
        XCTAssertEqual(g1, k1)
    }
}
