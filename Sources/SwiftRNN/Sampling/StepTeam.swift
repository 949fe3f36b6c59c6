import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A second thread that takes half of every generation step (`CharLanguageModel.step(team:)`):
/// each thread reads the `W_hh` rows of half the hidden units, so a step streams half the
/// weights per core, and the two cores' caches hold twice as much of them.
///
/// Hand-over: the owner posts a job (a counter), runs its own half, then *claims* the job if
/// the helper has not yet: on a busy machine, where the helper may not get a core for a whole
/// time slice, the owner then runs both halves itself, so two threads are never slower than
/// one by more than a compare-and-swap. A waiting thread spins for about 50 microseconds (a
/// step is tens of microseconds: a futex round trip would cost more than it saves), then
/// blocks on a condition variable, so an idle team burns no core.
///
/// Two threads only pay when both get a core. So the owner measures: it times a window of
/// `window` jobs as a team and one alone, then runs the faster way for `exploitWindows`
/// windows and measures again. On an idle machine the team wins; when another process keeps a
/// core busy, the helper keeps losing its time slice and the owner runs alone, at one thread's
/// speed. A wait of over a millisecond (a lost time slice) also switches to alone until the
/// next measurement: without that rule, two threads with one core busy measured 0.95x of one
/// thread, with it 0.99x; the price is on an idle machine, where a scheduler hiccup now and
/// then gives up the second core for a third of a second (2 threads: 1.39-1.54x of one in
/// benchmarks/contention.py runs). For the bulk generation of
/// `swiftrnn_sample_text` / `Generator.sample`. One generation at a time; `stop()` (also done
/// at deinit) ends and joins the thread.
public final class StepTeam: @unchecked Sendable {
    /// Hidden sizes below this are not split: the hand-over would cost more than half a step.
    public static let minimumHidden = 128
    /// How long a waiting thread spins before it blocks.
    static let spinNanoseconds = 50_000
    /// A wait of the owner longer than this is a stall (the helper was descheduled).
    static let stallNanoseconds = 1_000_000

    private let requested = Atomic<Int>(0)   // the last job number the owner posted; -1: stop
    private let claimed = Atomic<Int>(0)     // the last job number a thread took to run
    private let completed = Atomic<Int>(0)   // the last job number the helper finished
    // Written by the owner before it posts a job, read by the helper after it claims it (the
    // counters' release/acquire orders the two).
    private var job: (() -> Void)?
    private var thread = pthread_t()
    private var running = false
    // Blocking after the spin: one mutex, one condition per side, and who sleeps (under the
    // mutex, so a post or a completion never misses a sleeper).
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let helperWake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let ownerWake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var helperSleeping = false
    private var ownerSleeping = false
    // The owner's choice between team and alone (owner thread only).
    static let window = 256, exploitWindows = 32
    private enum Phase { case probeTeam, probeAlone(teamNs: Int), exploit(windowsLeft: Int) }
    private var phase = Phase.probeTeam
    private var alone = false
    private var windowLeft = StepTeam.window
    private var windowStart = 0

    /// nil when the helper thread cannot be started (the caller then steps alone).
    public init?() {
        pthread_mutex_init(lock, nil)
        pthread_cond_init(helperWake, nil)
        pthread_cond_init(ownerWake, nil)
        let ctx = Unmanaged.passUnretained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { ctx in
            Unmanaged<StepTeam>.fromOpaque(ctx!).takeUnretainedValue().helperLoop()
            return nil
        }, ctx)
        guard rc == 0 else { destroySync(); return nil }
        running = true
    }

    deinit {
        stop()
        destroySync()
    }

    private func destroySync() {
        pthread_cond_destroy(helperWake); pthread_cond_destroy(ownerWake); pthread_mutex_destroy(lock)
        helperWake.deallocate(); ownerWake.deallocate(); lock.deallocate()
    }

    /// Ends the helper thread. Idempotent.
    public func stop() {
        guard running else { return }
        requested.store(-1, ordering: .releasing)
        pthread_mutex_lock(lock)
        pthread_cond_signal(helperWake)
        pthread_mutex_unlock(lock)
        pthread_join(thread, nil)
        running = false
    }

    /// Where to split `hidden` units: the helper takes `split..<hidden`. A multiple of 16 so
    /// that both halves run whole SIMD chunks; nil for small layers.
    func split(_ hidden: Int) -> Int? {
        hidden >= StepTeam.minimumHidden && running ? (hidden / 2 + 15) / 16 * 16 : nil
    }

    /// Runs `helper` and `mine` (`helper` on the helper thread if it takes it in time, else
    /// here); returns when both are done.
    func run(_ helper: () -> Void, mine: () -> Void) {
        if windowStart == 0 { windowStart = Self.nanoseconds() }
        if alone {
            mine()
            helper()
        } else {
            teamRun(helper, mine: mine)
        }
        windowLeft -= 1
        if windowLeft == 0 { endWindow() }
    }

    private static func nanoseconds() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    /// A window of jobs ended: measure or decide.
    private func endWindow() {
        let now = Self.nanoseconds(), ns = now - windowStart
        windowStart = now
        windowLeft = Self.window
        switch phase {
        case .probeTeam:
            phase = .probeAlone(teamNs: ns)
            alone = true
        case let .probeAlone(teamNs):
            alone = !(teamNs < ns)
            phase = .exploit(windowsLeft: Self.exploitWindows)
        case let .exploit(left):
            if left > 1 {
                phase = .exploit(windowsLeft: left - 1)
            } else {
                phase = .probeTeam
                alone = false
            }
        }
    }

    private func teamRun(_ helper: () -> Void, mine: () -> Void) {
        withoutActuallyEscaping(helper) { helper in
            job = helper
            let n = requested.load(ordering: .relaxed) + 1   // this thread is the only poster
            requested.store(n, ordering: .releasing)
            pthread_mutex_lock(lock)
            if helperSleeping { pthread_cond_signal(helperWake) }
            pthread_mutex_unlock(lock)
            mine()
            if claimed.compareExchange(expected: n - 1, desired: n, ordering: .acquiringAndReleasing).exchanged {
                helper()   // the helper had not started: do its half here
            } else if wait(on: ownerWake, until: { self.completed.load(ordering: .acquiring) == n },
                           sleeping: { self.ownerSleeping = $0 }) > Self.stallNanoseconds,
                      case .exploit = phase {
                alone = true   // the helper lost its core: alone until the next measurement
            }
            job = nil
        }
    }

    /// Spins about `spinNanoseconds` for `done`, then blocks on `cond` until it holds. Returns
    /// the nanoseconds waited when it had to block (0 when the spin sufficed).
    @discardableResult
    private func wait(on cond: UnsafeMutablePointer<pthread_cond_t>, until done: () -> Bool, sleeping: (Bool) -> Void) -> Int {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var spins = 0
        while !done() {
            spins += 1
            if spins & 63 != 0 { continue }
            var t = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t)
            if (t.tv_sec - start.tv_sec) * 1_000_000_000 + (t.tv_nsec - start.tv_nsec) < Self.spinNanoseconds { continue }
            pthread_mutex_lock(lock)
            sleeping(true)
            while !done() { pthread_cond_wait(cond, lock) }
            sleeping(false)
            pthread_mutex_unlock(lock)
            var end = timespec()
            clock_gettime(CLOCK_MONOTONIC, &end)
            return max(1, (end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec))
        }
        return 0
    }

    private func helperLoop() {
        var seen = 0
        while true {
            wait(on: helperWake, until: { self.requested.load(ordering: .acquiring) != seen },
                 sleeping: { self.helperSleeping = $0 })
            let n = requested.load(ordering: .acquiring)
            if n < 0 { return }
            seen = n
            // The owner may have taken the job already (it was not scheduled in time).
            guard claimed.compareExchange(expected: n - 1, desired: n, ordering: .acquiringAndReleasing).exchanged else {
                continue
            }
            job?()
            completed.store(n, ordering: .releasing)
            pthread_mutex_lock(lock)
            if ownerSleeping { pthread_cond_signal(ownerWake) }
            pthread_mutex_unlock(lock)
        }
    }
}
