import XCTest
@testable import SwiftRNN

/// Issue 15, items 1 and 4: a generator's feed / logits / saved state, and the sampling
/// controls (stop strings, repetition penalty, min-p, banned characters).
final class GeneratorStateTests: XCTestCase {
    private func charlm(cell: CellKind = .lstm, layers: Int = 1, seed: UInt64 = 1) -> CharLanguageModel {
        guard case let .charlm(m) = makeModel(kind: .charlm, cell: cell, layers: layers, H: 7, seed: seed) else {
            fatalError("not a charlm")
        }
        return m
    }

    private func take(_ g: inout Generator, _ n: Int) throws -> String {
        var s = ""
        for _ in 0..<n { s.unicodeScalars.append(try g.next()) }
        return s
    }

    func testFeedEqualsPrimingWithTheConcatenation() throws {
        for (cell, layers) in [(CellKind.lstm, 1), (.gru, 2), (.rnnTanh, 1)] {
            let m = charlm(cell: cell, layers: layers)
            let p = SamplingParameters(seed: 9)
            var a = try Generator(model: m, prime: "Th", parameters: p)
            try a.feed("e s")
            try a.feed("")
            try a.feed("ea")
            var b = try Generator(model: m, prime: "The sea", parameters: p)
            XCTAssertEqual(try take(&a, 60), try take(&b, 60), "\(cell)")
            // After draws, and after logits(): the pending character is taken in once.
            var c = try Generator(model: m, prime: "The", parameters: SamplingParameters(greedy: true))
            let drawn = try take(&c, 5)
            _ = try c.logits()
            try c.feed(" and")
            var d = try Generator(model: m, prime: "The" + drawn + " and", parameters: SamplingParameters(greedy: true))
            XCTAssertEqual(try take(&c, 40), try take(&d, 40), "\(cell)")
        }
    }

    func testSaveLoadGivesIdenticalContinuations() throws {
        let m = charlm(cell: .lstm, layers: 2)
        var p = SamplingParameters(seed: 4)
        p.repetitionPenalty = 1.3
        p.repetitionWindow = 9
        p.stopStrings = ["zzz"]
        let fp = m.stateFingerprint()
        XCTAssertEqual(fp, m.stateFingerprint())
        var g = try Generator(model: m, prime: "The sea", parameters: p)
        _ = try take(&g, 11)
        for withLogits in [false, true] {
            if withLogits { _ = try g.logits() }
            let state = g.saveState(fingerprint: fp)
            var copy = g
            let want = try take(&copy, 80)
            var h = try Generator(model: m, prime: "a", parameters: p)
            try state.withUnsafeBytes { try h.loadState($0, fingerprint: fp) }
            XCTAssertEqual(try take(&h, 80), want)
        }
    }

    func testBadStatesAreRefusedAndChangeNothing() throws {
        let m = charlm()
        let fp = m.stateFingerprint()
        var g = try Generator(model: m, prime: "The", parameters: SamplingParameters(seed: 2))
        let state = g.saveState(fingerprint: fp)
        var copy = g
        let want = try take(&copy, 30)
        for n in [0, 7, 8, 95, 96, 103, state.count - 1] {
            assertThrows(.format, "") { try Array(state.prefix(n)).withUnsafeBytes { try g.loadState($0, fingerprint: fp) } }
        }
        var flipped = state
        flipped[120] ^= 1
        assertThrows(.format, "checksum") { try flipped.withUnsafeBytes { try g.loadState($0, fingerprint: fp) } }
        var newer = state
        newer[8] = 2
        assertThrows(.unsupported, "newer") { try newer.withUnsafeBytes { try g.loadState($0, fingerprint: fp) } }
        // Same shape, other weights: the fingerprint differs.
        let other = charlm(seed: 77)
        XCTAssertNotEqual(other.stateFingerprint(), fp)
        assertThrows(.invalidArgument, "another model") {
            try state.withUnsafeBytes { try g.loadState($0, fingerprint: other.stateFingerprint()) }
        }
        // Other shape.
        let gru = charlm(cell: .gru, layers: 2)
        var h = try Generator(model: gru, prime: "The", parameters: SamplingParameters())
        assertThrows(.invalidArgument, "another model") {
            try state.withUnsafeBytes { try h.loadState($0, fingerprint: gru.stateFingerprint()) }
        }
        XCTAssertEqual(try take(&g, 30), want)
    }

    /// Fields out of range under a valid checksum: each refused as FORMAT (or, for the shape,
    /// INVALID_ARGUMENT), never a trap.
    func testCorruptFieldsWithAValidChecksumAreRefused() throws {
        let m = charlm(cell: .lstm, layers: 2)
        let fp = m.stateFingerprint()
        var p = SamplingParameters(seed: 1)
        p.repetitionPenalty = 1.2
        var g = try Generator(model: m, prime: "The sea", parameters: p)
        _ = try take(&g, 3)
        _ = try g.logits()
        let state = g.saveState(fingerprint: fp)
        func resealed(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
            var b = Array(state.dropLast(8))
            edit(&b)
            let sum = b.withUnsafeBytes { GeneratorStateLayout.fnv1a($0) }
            withUnsafeBytes(of: sum.littleEndian) { b.append(contentsOf: $0) }
            return b
        }
        func put32(_ b: inout [UInt8], _ at: Int, _ v: UInt32) { for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
        let LH = 2 * 7, n = Int(state[88]) | Int(state[89]) << 8
        let cases: [(String, SwiftRNNError.Code, (inout [UInt8]) -> Void)] = [
            ("version 0", .format, { put32(&$0, 8, 0) }),
            ("unknown flag", .format, { put32(&$0, 12, 4 | 1) }),
            ("no logits flag (size differs)", .format, { put32(&$0, 12, 0) }),
            ("stop flag without index", .format, { put32(&$0, 12, 3) }),
            ("cell", .invalidArgument, { put32(&$0, 24, 2) }),
            ("layers", .invalidArgument, { put32(&$0, 28, 1) }),
            ("hidden", .invalidArgument, { put32(&$0, 32, 0xFFFF_FFFF) }),
            ("vocab", .invalidArgument, { put32(&$0, 36, 1000) }),
            ("fingerprint", .invalidArgument, { $0[16] ^= 1 }),
            ("pending out of range", .format, { put32(&$0, 40, 12) }),
            ("pending negative", .format, { put32(&$0, 40, 0xFFFF_FFFF) }),
            ("stop index without flag", .format, { put32(&$0, 44, 0) }),
            ("stop index below -1", .format, { put32(&$0, 44, 0xFFFF_FFFE) }),
            ("drawn above Int.max", .format, { for k in 48..<56 { $0[k] = 0xFF } }),
            ("zero random state", .format, { for k in 56..<88 { $0[k] = 0 } }),
            ("history count huge", .format, { put32(&$0, 88, 0xFFFF_FFFF) }),
            ("history count off by one", .format, { put32(&$0, 88, UInt32(n + 1)) }),
            ("NaN in h", .format, { put32(&$0, 96, 0x7FC0_0000) }),
            ("infinity in c", .format, { put32(&$0, 96 + 4 * LH, 0x7F80_0000) }),
            ("history id out of range", .format, { put32(&$0, 96 + 8 * LH, 99) }),
            ("NaN logit", .format, { put32(&$0, 96 + 8 * LH + 4 * n, 0x7FC0_0000) }),
        ]
        var copy = g
        let want = try take(&copy, 30)
        for (what, code, edit) in cases {
            let bytes = resealed(edit)
            assertThrows(code, "") { try bytes.withUnsafeBytes { try g.loadState($0, fingerprint: fp) } }
            _ = what
        }
        XCTAssertEqual(try take(&g, 30), want)
        // The reseal itself keeps a valid state valid.
        let same = resealed { _ in }
        XCTAssertEqual(same, state)
    }

    func testLogitsAreTheScaledModelLogits() throws {
        let m = charlm()
        var g = try Generator(model: m, prime: "The", parameters: SamplingParameters(scaleFactor: 2))
        var s = m.makeState()
        for id in try m.table.encode("The") { m.step(id, &s) }
        XCTAssertEqual(try g.logits(), s.logits.array.map { $0 * 2 })
        var greedy = try Generator(model: m, prime: "The", parameters: SamplingParameters(scaleFactor: .nan, greedy: true))
        XCTAssertEqual(try greedy.logits(), s.logits.array)
    }

    func testRepetitionPenaltyIsCTRLStyle() throws {
        var p = SamplingParameters(greedy: true)
        p.repetitionPenalty = 4
        p.repetitionWindow = 2
        var s = Sampler(p)
        // 2 / 4 = 0.5 < 1: the repeated character loses its lead.
        XCTAssertEqual(try s.draw([2, 1, -1, -3], recent: [0]), 1)
        // Only the last 2 characters count: 0 is outside the window.
        XCTAssertEqual(try s.draw([2, 1, -1, -3], recent: [0, 3, 3]), 0)
        // Negative logits are multiplied: -1 * 4 = -4 < -3.
        XCTAssertEqual(try s.draw([-5, -5, -1, -3], recent: [2]), 3)
        // Once per distinct character, however often it occurs.
        XCTAssertEqual(try s.draw([2, 0.4, -1, -3], recent: [0, 0]), 0)
    }

    func testMinPAndBannedLimitTheDraws() throws {
        var p = SamplingParameters(seed: 3)
        p.minP = 0.5
        var s = Sampler(p, banned: [false, false, true, false])
        // Probabilities ~ e^3, e^2.5, e^3.2 (banned), e^0: min-p keeps 0 and 1 only.
        var seen = Set<Int>()
        for _ in 0..<2000 { seen.insert(try s.draw([3, 2.5, 3.2, 0])) }
        XCTAssertEqual(seen, [0, 1])
        var greedy = Sampler(SamplingParameters(greedy: true), banned: [false, true])
        XCTAssertEqual(try greedy.draw([1, 2]), 0)
    }

    func testControlsAreDeterministicAndEqualInSampleAndGenerator() throws {
        let m = charlm()
        for seed: UInt64 in 0..<6 {
            var p = SamplingParameters(seed: seed)
            p.stopStrings = ["ss", "a d"]
            p.repetitionPenalty = 1.5
            p.repetitionWindow = 8
            p.minP = 0.05
            p.banned = "é"
            let (text, stop) = try Generator.sampleWithStop(model: m, prime: "The", count: 300, parameters: p)
            let again = try Generator.sampleWithStop(model: m, prime: "The", count: 300, parameters: p)
            XCTAssertEqual(text, again.text)
            XCTAssertEqual(stop, again.stop)
            XCTAssertFalse(text.dropFirst(3).contains("é"))
            var g = try Generator(model: m, prime: "The", parameters: p)
            var out = "The"
            for _ in 0..<300 {
                out.unicodeScalars.append(try g.next())
                if g.stopIndex != nil { break }
            }
            XCTAssertEqual(out, text)
            XCTAssertEqual(g.stopIndex, stop)
            if let stop { XCTAssertTrue(text.hasSuffix(p.stopStrings[stop])) }
            // Two threads give the same text.
            var p2 = p
            p2.threads = 2
            XCTAssertEqual(try Generator.sample(model: m, prime: "The", count: 300, parameters: p2), text)
        }
    }

    func testInvalidControlsAreRefused() {
        let m = charlm()
        func refused(_ fragment: String, _ change: (inout SamplingParameters) -> Void) {
            var p = SamplingParameters()
            change(&p)
            assertThrows(.invalidArgument, fragment) { try Generator(model: m, prime: "The", parameters: p) }
        }
        refused("repetition_penalty") { $0.repetitionPenalty = 0 }
        refused("repetition_penalty") { $0.repetitionPenalty = .nan }
        refused("repetition_penalty") { $0.repetitionPenalty = .infinity }
        refused("repetition_window") { $0.repetitionWindow = -1 }
        refused("repetition_window") { $0.repetitionWindow = SamplingParameters.maxRepetitionWindow + 1 }
        refused("min_p") { $0.minP = 1.01 }
        refused("min_p") { $0.minP = -0.01 }
        refused("min_p") { $0.minP = .nan }
        refused("stop_strings[1] is empty") { $0.stopStrings = ["a", ""] }
        refused("at most") { $0.stopStrings = [String](repeating: "a", count: SamplingParameters.maxStopStrings + 1) }
        refused("characters; at most") { $0.stopStrings = [String(repeating: "a", count: SamplingParameters.maxStopLength + 1)] }
        refused("every character") { $0.banned = m.table.characters.map { String($0) }.joined() }
    }
}
