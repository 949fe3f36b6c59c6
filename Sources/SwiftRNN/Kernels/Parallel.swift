#if canImport(Glibc)
import Glibc
#endif

/// A fork-join loop over plain pthreads (no Foundation or Dispatch in the core).
public enum Parallel {
    /// Online cores (at least 1).
    public static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    private final class Job: @unchecked Sendable {
        let count: Int
        let body: (Int) -> Void
        var next = 0
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        init(count: Int, body: @escaping (Int) -> Void) {
            self.count = count; self.body = body
            lock.initialize(to: pthread_mutex_t())
            pthread_mutex_init(lock, nil)
        }
        deinit { pthread_mutex_destroy(lock); lock.deallocate() }
        /// Hands out chunks of indices until none are left.
        func run() {
            let chunk = max(1, min(64, count / 64))
            while true {
                pthread_mutex_lock(lock)
                let start = next
                next = min(count, next + chunk)
                pthread_mutex_unlock(lock)
                if start >= count { return }
                for i in start..<min(count, start + chunk) { body(i) }
            }
        }
    }

    /// Calls `body(i)` for every `i` in `0..<count` on up to `threads` threads (0: all cores),
    /// the calling thread included. `body` must be safe to call concurrently.
    public static func forEach(count: Int, threads: Int, _ body: (Int) -> Void) {
        let n = min(count, threads <= 0 ? cores : min(threads, 256))
        if n <= 1 { for i in 0..<count { body(i) }; return }
        withoutActuallyEscaping(body) { body in
            let job = Job(count: count, body: body)
            var tids: [pthread_t] = []
            for _ in 1..<n {
                var tid = pthread_t()
                let ctx = Unmanaged.passRetained(job).toOpaque()
                let rc = pthread_create(&tid, nil, { ctx in
                    let job = Unmanaged<Job>.fromOpaque(ctx!).takeRetainedValue()
                    job.run()
                    return nil
                }, ctx)
                if rc == 0 { tids.append(tid) } else { Unmanaged<Job>.fromOpaque(ctx).release() }
            }
            job.run()
            for t in tids { pthread_join(t, nil) }
        }
    }

    /// `body(i)` for every `i` in `0..<count`, on up to `threads` threads, as an array.
    public static func map<T>(count: Int, threads: Int, _ body: (Int) -> T) -> [T] {
        var out = [T?](repeating: nil, count: count)
        out.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress
            forEach(count: count, threads: threads) { i in base![i] = body(i) }
        }
        return out.map { $0! }
    }
}
