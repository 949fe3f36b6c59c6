import ArgumentParser
import SwiftRNN

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model (see issue 4).")
    func run() throws { throw ValidationError("training is not built yet") }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a model.")
    func run() throws { throw ValidationError("evaluation is not built yet") }
}
