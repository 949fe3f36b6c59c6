import SwiftRNN
import SwiftRNNTraining
#if canImport(Glibc)
import Glibc
#endif

// The terminal side of `swiftrnn train`: a progress bar and Ctrl-C, wired to the training
// library's RunObserver.

/// Ctrl-C during training: the first SIGINT asks the loop to stop after the current step and
/// write a checkpoint; a second one kills the process as usual.
enum Interrupt {
    nonisolated(unsafe) static var flag: sig_atomic_t = 0

    public static var requested: Bool { flag != 0 }

    public static func install() {
        signal(SIGINT) { _ in
            if Interrupt.flag != 0 { signal(SIGINT, SIG_DFL); raise(SIGINT) }
            Interrupt.flag = 1
        }
    }
}

/// Progress output: a bar redrawn in place on a terminal, plain log lines otherwise.
struct Progress {
    public let total: Int
    public let label: String
    let tty: Bool
    let start = monotonicSeconds()
    var lastPrint = 0.0
    public var quiet = false

    public init(total: Int, label: String) {
        self.total = total; self.label = label
        tty = isatty(STDOUT_FILENO) != 0
    }

    public mutating func update(_ done: Int, _ fields: String, unitsPerSecond: Double? = nil, unit: String = "") {
        guard !quiet else { return }
        let now = monotonicSeconds()
        let elapsed = now - start
        let finished = done >= total
        if !finished && now - lastPrint < (tty ? 0.2 : 30) { return }
        lastPrint = now
        let rate = done > 0 ? elapsed / Double(done) : 0
        let eta = rate * Double(total - done)
        let speed = unitsPerSecond.map { " \(fmt($0, 1)) \(unit)/s" } ?? ""
        if tty {
            let width = 24, filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            var line = "\r\(label) [\(bar)] \(done)/\(total) \(fields)\(speed) eta \(clock(eta))"
            line += "\u{1B}[K"
            fputs(line, stdout)
            if finished { fputs("\n", stdout) }
            fflush(stdout)
        } else {
            print("\(label) \(done)/\(total) \(fields)\(speed) elapsed \(clock(elapsed)) eta \(clock(eta))")
            fflush(stdout)
        }
    }
}


extension RunObserver {
    /// Prints to stdout: a bar per phase, summaries, resume and interrupt notices; Ctrl-C
    /// (once) stops the run after a checkpoint.
    static func terminal() -> RunObserver {
        Interrupt.install()
        var bars: [String: Progress] = [:]
        return RunObserver(report: { event in
            switch event {
            case let .resumed(message): print(message)
            case let .progress(label, done, total, metrics, speed, unit):
                if bars[label] == nil { bars = [label: Progress(total: total, label: label)] }
                bars[label]!.update(done, metrics, unitsPerSecond: speed, unit: unit)
            case let .summary(line): print(line)
            case let .interrupted(path): print("\ninterrupted: checkpoint written to \(path); continue with --resume")
            }
        }, shouldStop: { Interrupt.requested })
    }
}
