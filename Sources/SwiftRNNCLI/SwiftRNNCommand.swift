import ArgumentParser
import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

/// `swiftrnn`: inspect, score, sample, train and evaluate models from the shell.
///
/// `inspect`, `score`, `sample` and `tokenize` are also `python -m swiftrnn`
/// (bindings/python/swiftrnn/__main__.py): the same flags, defaults and output, byte for byte
/// (Tests/cli/compare.sh checks it). Exit status: 0 success; 1 runtime error (one line
/// `swiftrnn: error: MESSAGE` on stderr); 2 usage error (unknown flag, missing or bad value).
@main
struct SwiftRNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftrnn",
        abstract: "Run and train the LSTM/GRU/RNN models of libswiftrnn.",
        version: SwiftRNNVersion.string,
        subcommands: [Inspect.self, Score.self, Classify.self, Sample.self, Tokenize.self, Convert.self, Train.self, Eval.self, Bench.self]
    )

    static func main() {
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }   // --help, --version
            usageExit(fullMessage(for: error))
        }
        if command is SwiftRNNCommand {
            usageExit("Error: a command is required (inspect, score, sample, tokenize, convert, train, eval, bench)\n"
                + "Usage: swiftrnn <subcommand>\n  See 'swiftrnn --help' for more information.")
        }
        do {
            var c = command
            try c.run()
        } catch let e as ExitCode {
            Glibc.exit(e.rawValue)
        } catch let e as RuntimeError {
            fail(e.message)
        } catch let e as ValidationError {
            fail(e.message)
        } catch let e as SwiftRNNError {
            fail(e.message)
        } catch {
            // `swiftrnn help CMD`, `swiftrnn CMD --help` (run by the parser's help command)
            switch exitCode(for: error) {
            case .success: exit(withError: error)
            case .validationFailure: usageExit(fullMessage(for: error))
            default: fail(message(for: error))
            }
        }
        Glibc.exit(0)
    }
}

/// A usage error: the message (and usage) on stderr, exit status 2.
func usageExit(_ text: String) -> Never {
    fflush(stdout)
    fputs(text.hasSuffix("\n") ? text : text + "\n", stderr)
    Glibc.exit(2)
}

/// A runtime error: one line `swiftrnn: error: MESSAGE` on stderr, exit status 1.
func fail(_ message: String) -> Never {
    fflush(stdout)
    fputs("swiftrnn: error: \(oneLine(message))\n", stderr)
    Glibc.exit(1)
}

/// A failure while running a command (bad model file, wrong kind, unknown character...):
/// reported by `main` as one line, exit status 1.
struct RuntimeError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Line breaks (and other control characters) become spaces: an error is one line.
func oneLine(_ s: String) -> String {
    var out = ""
    out.unicodeScalars.append(contentsOf: s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 })
    return out
}

/// Loads a model or throws `PATH: MESSAGE`.
func loadModel(_ path: String) throws -> Model {
    do { return try Model.load(path: path) } catch { throw RuntimeError("\(path): \(error.message)") }
}

// ---- numbers: the same syntax and limits as python -m swiftrnn ---------------------------------

/// `[+-]?[0-9]+` as (negative, magnitude); nil for any other text or a magnitude > UInt64.max.
func parseDecimal(_ s: String) -> (negative: Bool, magnitude: UInt64)? {
    var digits = Substring(s)
    var negative = false
    if let f = digits.first, f == "+" || f == "-" { negative = f == "-"; digits = digits.dropFirst() }
    guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    guard let m = UInt64(digits) else { return nil }
    return (negative, m)
}

/// An integer option (`[+-]?[0-9]+`, within Int64); ranges are checked by `validate()`.
func integer(_ s: String) throws -> Int {
    guard let (neg, m) = parseDecimal(s), m <= UInt64(Int64.max) else { throw ValidationError("not an integer") }
    return neg ? -Int(m) : Int(m)
}

/// A seed: an integer in 0 ... 2^64-1.
func seedValue(_ s: String) throws -> UInt64 {
    guard let (neg, m) = parseDecimal(s) else { throw ValidationError("not an integer") }
    guard !neg || m == 0 else { throw ValidationError("seed must be >= 0") }
    return m
}

/// A number (`[+-]?(D+[.D*]|.D+)([eE][+-]?D+)?`), read as a Double then rounded to Float,
/// exactly as the Python CLI does (float() then the C float).
func real(_ s: String) throws -> Float {
    let u = Array(s.utf8)
    var i = 0
    func digits() -> Int { let start = i; while i < u.count, u[i] >= 0x30, u[i] <= 0x39 { i += 1 }; return i - start }
    if i < u.count, u[i] == 0x2B || u[i] == 0x2D { i += 1 }
    var mantissa = digits()
    if i < u.count, u[i] == 0x2E { i += 1; mantissa += digits() }
    var ok = mantissa > 0
    if ok, i < u.count, u[i] == 0x65 || u[i] == 0x45 {
        i += 1
        if i < u.count, u[i] == 0x2B || u[i] == 0x2D { i += 1 }
        ok = digits() > 0
    }
    guard ok, i == u.count, let d = Double(s) else { throw ValidationError("not a number") }
    return Float(d)
}

let int32Max = Int(Int32.max)

func checkThreads(_ threads: Int) throws {
    guard threads >= 0 else { throw ValidationError("threads must be >= 0") }
    guard threads <= int32Max else { throw ValidationError("threads must be <= \(int32Max)") }
}

// ---- input and output ---------------------------------------------------------------------------

/// All of stdin, as bytes.
func readStdin() -> [UInt8] {
    var all: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buf.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n > 0 { all.append(contentsOf: buf[0..<n]); continue }
        if n < 0 && errno == EINTR { continue }
        break
    }
    return all
}

/// The texts of stdin for `score`: one per line (`\n`; a `\r` before it is dropped), invalid
/// UTF-8 replaced by U+FFFD, lines of only spaces, tabs, \r, \v and \f skipped.
func stdinLines() -> [String] {
    let bytes = readStdin()
    var out: [String] = []
    var start = 0
    func take(_ end: Int) {
        var e = end
        if e > start, bytes[e - 1] == 0x0D { e -= 1 }
        let line = bytes[start..<e]
        if line.allSatisfy({ $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }) { return }
        out.append(String(decoding: line, as: UTF8.self))
    }
    for (i, b) in bytes.enumerated() where b == 0x0A { take(i); start = i + 1 }
    if start < bytes.count { take(bytes.count) }
    return out
}

/// The text echoed by `score`: control characters become spaces; more than 70 Unicode scalars
/// are cut to the first 67 and "...".
func echo(_ text: String) -> String {
    let scalars = Array(oneLine(text).unicodeScalars)
    var out = ""
    if scalars.count > 70 {
        out.unicodeScalars.append(contentsOf: scalars[0..<67])
        out += "..."
    } else {
        out.unicodeScalars.append(contentsOf: scalars)
    }
    return out
}

/// `%.Nf` without Foundation.
func formatFixed(_ x: Double, _ digits: Int) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([x]) { vsnprintf(&buf, 64, "%.\(digits)f", $0) }
    return String(cString: buf)
}

// ---- the commands shared with python -m swiftrnn -------------------------------------------------

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's kind, config and tensors.", aliases: ["info"])
    @Argument(help: "A model file (.safetensors).") var model: String

    func run() throws {
        let m = try loadModel(model)
        let c = m.config
        print(m.summary)
        print("kind:          \(c.kind.rawValue)")
        print("cell:          \(c.cell.rawValue)")
        print("vocab_size:    \(c.vocabSize)")
        print("embedding_dim: \(c.embeddingDim)")
        print("hidden_size:   \(c.hiddenSize)")
        if c.cell == .jordan { print("output_size:   \(c.outputSize)") }
        print("num_layers:    \(c.numLayers)")
        print("bidirectional: \(c.bidirectional)")
        print("head:          \(c.head.joined(separator: ", "))")
        if c.kind == .classifier {
            print("labels:        \(c.labels.map { JSONWriter.quote($0) }.joined(separator: " "))\(c.multiLabel ? " (multi-label)" : "")")
        }
        if let d = c.description { print("description:   \(d)") }
        if let t = c.trainedBy { print("trained_by:    \(t)") }
        if let t = c.trainingSplit { print("split:         \(t)") }
        let shown = c.vocab.prefix(12).map { JSONWriter.quote($0) }.joined(separator: " ")
        print("vocab:         \(shown)\(c.vocab.count > 12 ? " ..." : "")")
        print("tensors:")
        do {
            try FileIO.withFileBytes(model) { bytes throws(SwiftRNNError) in
                let f = try SafeTensors(bytes: bytes)
                for e in f.entries {
                    let name = e.name + String(repeating: " ", count: max(0, 28 - e.name.unicodeScalars.count))
                    print("  \(name) \(e.dtype.rawValue) \(e.shape)")
                }
            }
        } catch { throw RuntimeError("\(model): \(error.message)") }
    }
}

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score reviews with a sentiment model.",
        discussion: """
        Prints PROBABILITY<TAB>LABEL<TAB>TEXT per review: the probability with 6 decimals, \
        positive when it is >= 0.5, the text with control characters as spaces and cut to 67 \
        characters + "..." when longer than 70. No TEXT, or the single TEXT "-": one review per \
        line of stdin (blank lines skipped).
        """)
    @Argument(help: "A sentiment model.") var model: String
    @Argument(help: "Reviews (none or '-': one per line of stdin).") var texts: [String] = []
    @Option(parsing: .unconditional, help: "Threads (0: all cores; default 0).", transform: integer) var threads: Int = 0

    func validate() throws { try checkThreads(threads) }

    func run() throws {
        guard case let .sentiment(m) = try loadModel(model) else {
            throw RuntimeError("\(model) is not a sentiment model")
        }
        let input = texts.isEmpty || texts == ["-"] ? stdinLines() : texts
        for (t, p) in zip(input, m.scoreBatch(input, threads: threads)) {
            let label = p >= 0.5 ? "positive" : "negative"
            print("\(formatFixed(Double(p), 6))\t\(label)\t\(echo(t))")
        }
    }
}

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify texts with a classifier or sentiment model.",
        discussion: """
        Prints per text its most likely labels, most likely first (ties: label order), as \
        PROBABILITY<TAB>LABEL pairs, then the text as score echoes it: \
        PROBABILITY<TAB>LABEL[<TAB>PROBABILITY<TAB>LABEL ...]<TAB>TEXT. Only labels whose \
        probability is >= --threshold are printed, at most --k of them; a text with none prints \
        "-" in their place. A sentiment model has the one label positive. No TEXT, or the single \
        TEXT "-": one text per line of stdin (blank lines skipped).
        """)
    @Argument(help: "A classifier or sentiment model.") var model: String
    @Argument(help: "Texts (none or '-': one per line of stdin).") var texts: [String] = []
    @Option(parsing: .unconditional, help: "Labels to print per text (0: all; default 1).", transform: integer) var k: Int = 1
    @Option(parsing: .unconditional, help: "Print only labels with at least this probability (default 0).", transform: real) var threshold: Float = 0
    @Option(parsing: .unconditional, help: "Threads (0: all cores; default 0).", transform: integer) var threads: Int = 0

    func validate() throws {
        guard k >= 0 else { throw ValidationError("k must be >= 0") }
        guard threshold >= 0, threshold <= 1 else { throw ValidationError("threshold must be in [0, 1]") }
        try checkThreads(threads)
    }

    func run() throws {
        let m = try loadModel(model)
        let input = texts.isEmpty || texts == ["-"] ? stdinLines() : texts
        let labels: [String], rows: [Float]
        switch m {
        case let .classifier(c):
            labels = c.labels
            rows = c.classifyBatch(input, threads: threads)
        case let .sentiment(s):
            labels = ["positive"]
            rows = s.scoreBatch(input, threads: threads)
        default:
            throw RuntimeError("\(model) is a \(m.config.kind.rawValue) model; classify needs a classifier or sentiment model")
        }
        let n = labels.count
        for (i, t) in input.enumerated() {
            let order = (0..<n).sorted { rows[i * n + $0] > rows[i * n + $1] || (rows[i * n + $0] == rows[i * n + $1] && $0 < $1) }
            let kept = order.prefix(k == 0 ? n : k).filter { rows[i * n + $0] >= threshold }
            let pairs = kept.map { "\(formatFixed(Double(rows[i * n + $0]), 6))\t\(echo(labels[$0]))" }
            print((pairs.isEmpty ? "-" : pairs.joined(separator: "\t")) + "\t" + echo(t))
        }
    }
}

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a character model.",
        discussion: "Prints the prime and the generated characters, then a newline. The same seed gives the same text.")
    @Argument(help: "A charlm model.") var model: String
    @Option(parsing: .unconditional, help: "The text to start from.") var prime: String = "The island"
    @Option(parsing: .unconditional, help: "Characters to generate (default 500).", transform: integer) var length: Int = 500
    @Option(parsing: .unconditional, help: "Scale factor: logits x scale (temperature = 1/scale; default 1).", transform: real) var scale: Float = 1
    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Keep the k most likely characters (0: off, the default).", transform: integer) var topK: Int = 0
    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Nucleus sampling threshold (1: off, the default).", transform: real) var topP: Float = 1
    @Flag(help: "Always take the most likely character.") var greedy = false
    @Option(parsing: .unconditional, help: "Random seed, 0 ... 2^64-1 (default 0).", transform: seedValue) var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "1, or 2 to split each step with a helper thread (0: 2 when there are 2+ cores; default 1); the text is the same.", transform: integer) var threads: Int = 1
    @Flag(help: "Print each character as it comes.") var stream = false
    @Option(name: .customLong("stop"), parsing: .unconditionalSingleValue, help: "End after the first generated text that completes this string (repeatable; it is printed).") var stop: [String] = []
    @Option(name: .customLong("repetition-penalty"), parsing: .unconditional, help: "Divide positive / multiply negative logits of characters seen in the window by this (1: off, the default).", transform: real) var repetitionPenalty: Float = 1
    @Option(name: .customLong("repetition-window"), parsing: .unconditional, help: "The last N characters the penalty looks at (default 64).", transform: integer) var repetitionWindow: Int = 64
    @Option(name: .customLong("min-p"), parsing: .unconditional, help: "Drop characters below min-p x the most likely one's probability (0: off, the default).", transform: real) var minP: Float = 0
    @Option(name: .customLong("banned"), parsing: .unconditional, help: "Characters never generated (default none).") var banned: String = ""

    func validate() throws {
        guard length >= 0 else { throw ValidationError("length must be >= 0") }
        if !greedy { guard scale.isFinite, scale > 0 else { throw ValidationError("scale must be finite and > 0") } }
        guard topK >= 0 else { throw ValidationError("top-k must be >= 0") }
        guard topK <= int32Max else { throw ValidationError("top-k must be <= \(int32Max)") }
        if !greedy { guard topP > 0, topP <= 1 else { throw ValidationError("top-p must be in (0, 1]") } }
        try checkThreads(threads)
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else { throw ValidationError("repetition-penalty must be finite and > 0") }
        guard repetitionWindow >= 0, repetitionWindow <= SamplingParameters.maxRepetitionWindow else {
            throw ValidationError("repetition-window must be in 0 ... \(SamplingParameters.maxRepetitionWindow)")
        }
        guard minP.isFinite, minP >= 0, minP <= 1 else { throw ValidationError("min-p must be in [0, 1]") }
        guard stop.count <= SamplingParameters.maxStopStrings else {
            throw ValidationError("at most \(SamplingParameters.maxStopStrings) stop strings")
        }
        for t in stop {
            guard !t.isEmpty, t.unicodeScalars.count <= SamplingParameters.maxStopLength else {
                throw ValidationError("a stop string must have 1 ... \(SamplingParameters.maxStopLength) characters")
            }
        }
    }

    func run() throws {
        guard case let .charlm(m) = try loadModel(model) else {
            throw RuntimeError("\(model) is not a charlm model")
        }
        var params = SamplingParameters(scaleFactor: scale, topK: topK, topP: topP, greedy: greedy, seed: seed,
                                        threads: threads)
        params.stopStrings = stop
        params.repetitionPenalty = repetitionPenalty
        params.repetitionWindow = repetitionWindow
        params.minP = minP
        params.banned = banned
        let team = stream ? nil : Generator.makeTeam(for: m, parameters: params)
        defer { team?.stop() }
        var g: Generator
        do { g = try Generator(model: m, prime: prime, parameters: params, team: team) } catch {
            throw RuntimeError(error.message)
        }
        if stream {
            fputs(prime, stdout); fflush(stdout)
            var ch = ""
            for _ in 0..<length {
                ch.removeAll(keepingCapacity: true)
                ch.unicodeScalars.append(try next(&g))
                fputs(ch, stdout); fflush(stdout)
                if g.stopIndex != nil { break }
            }
            fputs("\n", stdout)
            return
        }
        var line = prime
        for _ in 0..<length {
            line.unicodeScalars.append(try next(&g))
            if line.utf8.count > 4096 { print(line, terminator: ""); line = "" }
            if g.stopIndex != nil { break }
        }
        print(line)
    }
}

/// The generator's next character; its failure (non-finite logits) as a RuntimeError.
func next(_ g: inout Generator) throws -> Unicode.Scalar {
    do { return try g.next() } catch { throw RuntimeError(error.message) }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the book tokenizer's tokens of a text, one per line.",
        discussion: "Several TEXTs are joined with spaces. No TEXT, or the single TEXT \"-\": all of stdin is one text.")
    @Argument(help: "The text (none or '-': stdin).") var text: [String] = []

    func run() {
        let input = text.isEmpty || text == ["-"]
            ? String(decoding: readStdin(), as: UTF8.self) : text.joined(separator: " ")
        for t in Tokenizer.tokenizeToStrings(input) { print(t) }
    }
}

// ---- Swift only ----------------------------------------------------------------------------------

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite a model with another weight dtype (F32, F16, BF16, or I8: int8 matrices).",
        discussion: "I8 stores every weight matrix as per-row symmetric int8 with an F32 scale per row "
            + "(format version 2, docs/model-format.md); it prints the largest change to any weight.")
    @Argument(help: "A model file.") var model: String
    @Option(help: "F32, F16, BF16 or I8.") var dtype: String = "F16"
    @Option(help: "The file to write.") var out: String

    func validate() throws {
        guard let d = SafeTensors.DType(rawValue: dtype.uppercased()), d.isFloat || d == .i8 else {
            throw ValidationError("--dtype must be F32, F16, BF16 or I8")
        }
    }

    func run() throws {
        let d = SafeTensors.DType(rawValue: dtype.uppercased())!
        let m = try loadModel(model)
        do { try m.save(to: out, dtype: d) } catch { throw RuntimeError(error.message) }
        if d == .i8 {
            print("wrote \(out) (I8; max weight error \(m.weights.int8MaxError(config: m.config)))")
        } else {
            print("wrote \(out) (\(d.rawValue))")
        }
    }
}
