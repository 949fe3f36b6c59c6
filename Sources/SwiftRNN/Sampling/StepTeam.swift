import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A second thread that takes half of every generation step (`CharLanguageModel.step(team:)`):
/// each thread reads the `W_hh` rows of half the hidden units, so a step streams half the
/// weights per core, and the two cores' caches hold twice as much of them.
///
/// The threads hand work over through two counters and spin while they wait (yielding after
/// a while): a step is tens of microseconds, too short for a futex round trip. For the bulk
/// generation of `swiftrnn_sample_text` / `Generator.sample`, not for a streaming generator
/// whose caller may pause between characters. One generation at a time; `stop()` (also done
/// at deinit) ends and joins the thread.
public final class StepTeam: @unchecked Sendable {
    /// Hidden sizes below this are not split: the hand-over would cost more than half a step.
    public static let minimumHidden = 128

    private let requested = Atomic<Int>(0)   // the last job number the owner posted; -1: stop
    private let completed = Atomic<Int>(0)   // the last job number the helper finished
    // Written by the owner before it posts a job, read by the helper after it sees the post
    // (the counters' release/acquire orders the two).
    private var job: (() -> Void)?
    private var thread = pthread_t()
    private var running = false

    /// nil when the helper thread cannot be started (the caller then steps alone).
    public init?() {
        let ctx = Unmanaged.passUnretained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { ctx in
            Unmanaged<StepTeam>.fromOpaque(ctx!).takeUnretainedValue().helperLoop()
            return nil
        }, ctx)
        guard rc == 0 else { return nil }
        running = true
    }

    deinit { stop() }

    /// Ends the helper thread. Idempotent.
    public func stop() {
        guard running else { return }
        requested.store(-1, ordering: .releasing)
        pthread_join(thread, nil)
        running = false
    }

    /// Where to split `hidden` units: the helper takes `split..<hidden`. A multiple of 16 so
    /// that both halves run whole SIMD chunks; nil for small layers.
    func split(_ hidden: Int) -> Int? {
        hidden >= StepTeam.minimumHidden && running ? (hidden / 2 + 15) / 16 * 16 : nil
    }

    /// Runs `helper` on the helper thread and `mine` on this one; returns when both are done.
    func run(_ helper: () -> Void, mine: () -> Void) {
        withoutActuallyEscaping(helper) { helper in
            job = helper
            let n = requested.load(ordering: .relaxed) + 1   // this thread is the only poster
            requested.store(n, ordering: .releasing)
            mine()
            var spins = 0
            while completed.load(ordering: .acquiring) != n {
                spins += 1
                if spins > 4096 { sched_yield() }
            }
            job = nil
        }
    }

    private func helperLoop() {
        var seen = 0
        while true {
            var spins = 0
            var n = requested.load(ordering: .acquiring)
            while n == seen {
                spins += 1
                if spins > 4096 { sched_yield() }
                n = requested.load(ordering: .acquiring)
            }
            if n < 0 { return }
            seen = n
            job?()
            completed.store(n, ordering: .releasing)
        }
    }
}
