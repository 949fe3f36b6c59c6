import SwiftRNN
#if canImport(Glibc)
import Glibc
#endif

/// Seconds on a monotonic clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Ctrl-C during training: the first SIGINT asks the loop to stop after the current step and
/// write a checkpoint; a second one kills the process as usual.
public enum Interrupt {
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
public struct Progress {
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

public func clock(_ s: Double) -> String {
    guard s.isFinite else { return "?" }
    let t = Int(s)
    return t >= 3600 ? "\(t / 3600)h\(pad2((t % 3600) / 60))m" : "\(t / 60)m\(pad2(t % 60))s"
}

func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

/// `%.Nf` without Foundation.
public func fmt(_ x: Double, _ digits: Int) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([x]) { vsnprintf(&buf, 64, "%.\(digits)f", $0) }
    return String(cString: buf)
}

/// Appends lines to a CSV file (per-epoch or per-interval metrics next to the model).
public struct CSVLog {
    let path: String
    public init(path: String, header: String, append: Bool) {
        self.path = path
        if !append || access(path, F_OK) != 0, let f = fopen(path, "w") { fputs(header + "\n", f); fclose(f) }
    }
    public func write(_ fields: [String]) {
        guard let f = fopen(path, "a") else { return }
        fputs(fields.joined(separator: ",") + "\n", f)
        fclose(f)
    }
}
