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

/// What a training run tells its caller, and how the caller stops it: the run loops hold no
/// terminal UI and install no signal handler (the CLI's progress bar and Ctrl-C live in
/// SwiftRNNCLI). The default observer is silent and never stops.
public struct RunObserver {
    public enum Event {
        /// A run picked up its checkpoint.
        case resumed(String)
        /// `done` of `total` units of the current phase (`label`), with the running metrics.
        case progress(label: String, done: Int, total: Int, metrics: String, unitsPerSecond: Double, unit: String)
        /// A one-line summary (an epoch's metrics).
        case summary(String)
        /// The run stopped because `shouldStop` said so, after writing its checkpoint.
        case interrupted(checkpoint: String)
    }

    public var report: (Event) -> Void
    /// Polled after every step: true stops the run after a checkpoint (resume later).
    public var shouldStop: () -> Bool

    public init(report: @escaping (Event) -> Void = { _ in }, shouldStop: @escaping () -> Bool = { false }) {
        self.report = report; self.shouldStop = shouldStop
    }

    public static var silent: RunObserver { RunObserver() }
}
