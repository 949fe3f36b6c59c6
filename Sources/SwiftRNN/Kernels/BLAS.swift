import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// OpenBLAS, loaded at run time.
///
/// Why not link it: OpenBLAS picks its kernels once, when it initialises, from the CPU it
/// recognises or from the environment variable `OPENBLAS_CORETYPE`. Debian's 0.3.21 does not
/// recognise recent AVX-512 CPUs and falls back to Prescott kernels, 5-8x slower. Linked, it
/// would initialise before any code of ours runs; loaded here, we can name the right core first:
/// if `OPENBLAS_CORETYPE` is unset we set it to the best core this CPU supports for the duration
/// of `dlopen` and then restore the environment. A value set by the user always wins. The release
/// library is linked `--as-needed` and references no BLAS symbol, so it has no DT_NEEDED on
/// OpenBLAS; the header (COpenBLAS) only gives the prototypes their types.
public enum BLAS {
    typealias SgemmFn = @convention(c) (CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint,
                                        Float, UnsafePointer<Float>?, blasint, UnsafePointer<Float>?, blasint,
                                        Float, UnsafeMutablePointer<Float>?, blasint) -> Void
    typealias CoreNameFn = @convention(c) () -> UnsafeMutablePointer<CChar>?

    struct Functions: @unchecked Sendable {
        let sgemm: SgemmFn
        let coreName: String
        let coreTypeChosen: String?
    }

    /// Loaded once, on first use (thread-safe: Swift globals initialise exactly once).
    static let functions: Result<Functions, SwiftRNNError> = load()

    /// Makes sure OpenBLAS is loaded; model loading and training call this first, so that a
    /// missing library is an error status rather than a crash in the middle of a computation.
    public static func ensureLoaded() throws(SwiftRNNError) {
        _ = try functions.get()
    }

    /// The OpenBLAS core in use (e.g. "SkylakeX"), and the OPENBLAS_CORETYPE this library chose
    /// (nil when the user's environment decided or the CPU needed no help).
    public static var coreDescription: (core: String, chosen: String?) {
        switch functions {
        case let .success(f): return (f.coreName, f.coreTypeChosen)
        case let .failure(e): return ("unavailable: \(e.message)", nil)
        }
    }

    /// The OPENBLAS_CORETYPE for this CPU's instruction sets, from /proc/cpuinfo's flags.
    static func bestCoreType() -> String? {
        #if arch(x86_64)
        guard let f = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 8192)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(cString: line)
            guard s.hasPrefix("flags") else { continue }
            let flags = Set(s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == ":" }).map(String.init))
            if ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].allSatisfy(flags.contains) { return "SkylakeX" }
            if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
            return nil
        }
        #endif
        return nil
    }

    static func load() -> Result<Functions, SwiftRNNError> {
        // Already in the process (the host's own OpenBLAS): use it as it is, touch nothing.
        for name in ["libopenblas.so.0", "libopenblas.so"] {
            if let h = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD) { return functions(h, chosen: nil) }
        }
        // The environment is changed only while this is the process's one thread: setenv can
        // move the environment table and free the old one, which another thread's getenv may
        // be reading (glibc < 2.41; docs/segfault-hunt.md found it in Dask workers). With other
        // threads running, OpenBLAS picks its core itself, and gets its one thread by a call.
        let alone = isSingleThreaded()
        var chosen: String? = nil
        if alone, getenv("OPENBLAS_CORETYPE") == nil, let core = bestCoreType() {
            chosen = core
            setenv("OPENBLAS_CORETYPE", core, 0)
        }
        // One OpenBLAS thread (we parallelise ourselves): saying so before it initialises also
        // spares it starting a thread pool at load time.
        let wantOneThread = getenv("OPENBLAS_NUM_THREADS") == nil
        let setThreads = alone && wantOneThread
        if setThreads { setenv("OPENBLAS_NUM_THREADS", "1", 0) }
        var handle: UnsafeMutableRawPointer? = nil
        for name in ["libopenblas.so.0", "libopenblas.so"] {
            handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
            if handle != nil { break }
        }
        if chosen != nil { unsetenv("OPENBLAS_CORETYPE") }
        if setThreads { unsetenv("OPENBLAS_NUM_THREADS") }
        guard let handle else {
            let why = dlerror().map { String(cString: $0) } ?? "not found"
            return .failure(.init(.io, "cannot load OpenBLAS (libopenblas.so.0): \(why); install it, e.g. apt-get install libopenblas0"))
        }
        // This process had no OpenBLAS before this dlopen: the instance is ours to configure.
        if wantOneThread, !setThreads, let t = dlsym(handle, "openblas_set_num_threads") {
            unsafeBitCast(t, to: SetThreadsFn.self)(1)
        }
        return functions(handle, chosen: chosen)
    }

    typealias SetThreadsFn = @convention(c) (Int32) -> Void

    /// Whether this process runs a single thread (Linux's /proc/self/status); false if unknown.
    static func isSingleThreaded() -> Bool {
        guard let f = fopen("/proc/self/status", "r") else { return false }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(cString: line)
            if s.hasPrefix("Threads:") {
                return String(s.dropFirst("Threads:".count).filter { !$0.isWhitespace }) == "1"
            }
        }
        return false
    }

    private static func functions(_ handle: UnsafeMutableRawPointer, chosen: String?) -> Result<Functions, SwiftRNNError> {
        guard let g = dlsym(handle, "cblas_sgemm") else {
            return .failure(.init(.io, "libopenblas.so.0 has no cblas_sgemm"))
        }
        let sgemm = unsafeBitCast(g, to: SgemmFn.self)
        // The library parallelises across reviews (and training across batch shards) itself and
        // wants one OpenBLAS thread. It gets it through OPENBLAS_NUM_THREADS at initialisation
        // when it is the first to load OpenBLAS; a host that loaded it before us keeps its own
        // thread count (openblas_set_num_threads is global: calling it would change the host's).
        var core = "unknown"
        if let c = dlsym(handle, "openblas_get_corename"), let p = unsafeBitCast(c, to: CoreNameFn.self)() {
            core = String(cString: p)
        }
        return .success(Functions(sgemm: sgemm, coreName: core, coreTypeChosen: chosen))
    }

    /// Row-major `sgemm`. OpenBLAS must have been loaded (`ensureLoaded`); if it could not be,
    /// the caller never got a model to compute with, so this is unreachable then.
    @inline(__always)
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard case let .success(f) = functions else { return }
        f.sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}
