import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Progress reports and cancellation for a long call (a batch of reviews, a long generation).
///
/// The caller's callback runs only on the thread that made the call (so a Python callback can
/// see the interpreter's pending Ctrl-C), at most every `interval` and at least as often as that
/// thread passes a check point (a group of reviews, a chunk of time steps, 32 characters).
/// Other threads only read the `cancelled` flag, which the owner sets when the callback says
/// stop. Work stops at the next check point; results computed so far are discarded.
public final class ProgressMonitor: @unchecked Sendable {
    /// Returns true to stop the call. `done` and `total` count the call's units.
    public typealias Callback = (_ done: Int, _ total: Int) -> Bool

    private let callback: Callback
    private let owner: pthread_t
    private let done = Atomic<Int>(0)
    private let stop = Atomic<Bool>(false)
    private var lastCall: timespec
    public let total: Int
    /// Seconds between two calls of the callback, at most.
    public let interval: Double

    public init(total: Int, interval: Double = 0.002, _ callback: @escaping Callback) {
        self.callback = callback
        self.total = total
        self.interval = interval
        owner = pthread_self()
        lastCall = Self.now()
    }

    private static func now() -> timespec {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t
    }

    /// Whether the call must stop.
    public var cancelled: Bool { stop.load(ordering: .relaxed) }

    /// Counts `n` finished units (any thread).
    public func advance(by n: Int) { done.add(n, ordering: .relaxed) }

    /// A check point: on the calling thread, calls the callback when `interval` has passed
    /// (`force`: now). Returns whether the call must stop.
    @discardableResult
    public func poll(force: Bool = false) -> Bool {
        if stop.load(ordering: .relaxed) { return true }
        guard pthread_equal(pthread_self(), owner) != 0 else { return false }
        let t = Self.now()
        let elapsed = Double(t.tv_sec - lastCall.tv_sec) + Double(t.tv_nsec - lastCall.tv_nsec) * 1e-9
        guard force || elapsed >= interval else { return false }
        lastCall = t
        if callback(done.load(ordering: .relaxed), total) {
            stop.store(true, ordering: .relaxed)
            return true
        }
        return false
    }

    /// Throws CANCELLED if the call was stopped.
    public func check() throws(SwiftRNNError) {
        if cancelled { throw .init(.cancelled, "cancelled by the progress callback after \(done.load(ordering: .relaxed)) of \(total)") }
    }
}
