import ArgumentParser
import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

/// `swiftrnn`: inspect, score, sample, train and evaluate models from the shell.
@main
struct SwiftRNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftrnn",
        abstract: "Run and train the LSTM/GRU/RNN models of libswiftrnn.",
        version: SwiftRNNVersion.string,
        subcommands: [Inspect.self, Score.self, Sample.self, Tokenize.self, Convert.self, Train.self, Eval.self, Bench.self]
    )
}

/// Loads a model or exits with the library's message.
func loadModel(_ path: String) throws -> Model {
    do { return try Model.load(path: path) } catch { throw ValidationError("\(path): \(error.message)") }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a model's kind, config and tensors.")
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
        print("num_layers:    \(c.numLayers)")
        print("bidirectional: \(c.bidirectional)")
        print("head:          \(c.head.joined(separator: ", "))")
        if let d = c.description { print("description:   \(d)") }
        if let t = c.trainedBy { print("trained_by:    \(t)") }
        let shown = c.vocab.prefix(12).map { JSONWriter.quote($0) }.joined(separator: " ")
        print("vocab:         \(shown)\(c.vocab.count > 12 ? " ..." : "")")
        print("tensors:")
        try FileIO.withFileBytes(model) { bytes throws(SwiftRNNError) in
            let f = try SafeTensors(bytes: bytes)
            for e in f.entries {
                let name = e.name + String(repeating: " ", count: max(0, 28 - e.name.count))
                print("  \(name) \(e.dtype.rawValue) \(e.shape)")
            }
        }
    }
}

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score reviews with a sentiment model (arguments, or one review per line of stdin).")
    @Argument(help: "A sentiment model.") var model: String
    @Argument(help: "Reviews; none: read lines from stdin.") var texts: [String] = []
    @Option(help: "Threads (0: all cores).") var threads: Int = 0

    func run() throws {
        guard case let .sentiment(m) = try loadModel(model) else {
            throw ValidationError("\(model) is not a sentiment model")
        }
        var input = texts
        if input.isEmpty { while let line = readLine() { if !line.isEmpty { input.append(line) } } }
        for (t, p) in zip(input, m.scoreBatch(input, threads: threads)) {
            let label = p >= 0.5 ? "positive" : "negative"
            print("\(formatFixed(Double(p), 4))\t\(label)\t\(t.prefix(70))")
        }
    }
}

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text with a character model.")
    @Argument(help: "A charlm model.") var model: String
    @Option(help: "The text to start from.") var prime: String = "The island"
    @Option(help: "Characters to generate.") var length: Int = 500
    @Option(help: "Scale factor: logits x scale (temperature = 1/scale).") var scale: Float = 1
    @Option(name: .customLong("top-k"), help: "Keep the k most likely characters (0: off).") var topK: Int = 0
    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold (1: off).") var topP: Float = 1
    @Flag(help: "Always take the most likely character.") var greedy = false
    @Option(help: "Random seed.") var seed: UInt64 = 1

    func run() throws {
        guard case let .charlm(m) = try loadModel(model) else {
            throw ValidationError("\(model) is not a charlm model")
        }
        guard length >= 0 else { throw ValidationError("--length must be >= 0") }
        let params = SamplingParameters(scaleFactor: scale, topK: topK, topP: topP, greedy: greedy, seed: seed)
        do {
            var g = try Generator(model: m, prime: prime, parameters: params)
            var line = prime
            for _ in 0..<length {
                line.unicodeScalars.append(try g.next())
                if line.utf8.count > 4096 { print(line, terminator: ""); line = "" }
            }
            print(line)
        } catch {
            throw ValidationError(error.message)
        }
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rewrite a model with another weight dtype (F32, F16, BF16).")
    @Argument(help: "A model file.") var model: String
    @Option(help: "F32, F16 or BF16.") var dtype: String = "F16"
    @Option(help: "The file to write.") var out: String

    func run() throws {
        guard let d = SafeTensors.DType(rawValue: dtype.uppercased()), d.isFloat else {
            throw ValidationError("--dtype must be F32, F16 or BF16")
        }
        let m = try loadModel(model)
        do { try m.save(to: out, dtype: d) } catch { throw ValidationError(error.message) }
        print("wrote \(out) (\(d.rawValue))")
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the book tokenizer's tokens of a text, one per line.")
    @Argument var text: String
    func run() { for t in Tokenizer.tokenizeToStrings(text) { print(t) } }
}

/// `%.Nf` without Foundation.
func formatFixed(_ x: Double, _ digits: Int) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([x]) { vsnprintf(&buf, 64, "%.\(digits)f", $0) }
    return String(cString: buf)
}
