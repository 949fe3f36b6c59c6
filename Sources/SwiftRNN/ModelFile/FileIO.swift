#if canImport(Glibc)
import Glibc
#endif

/// Files through Glibc: whole-file reads for models and data, write + rename for saving.
public enum FileIO {
    private static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Reads `path` into memory and passes its bytes to `body`; frees them afterwards.
    ///
    /// Not a mapping, on purpose: a mapped file that another process truncates while we read
    /// it (a non-atomic `cp` over a model) raises SIGBUS in the host. `pread` into our own
    /// buffer turns that into a short read and an error. The open is non-blocking, so a FIFO or
    /// a device never blocks it (`fstat` then refuses anything but a regular file). The buffer
    /// comes from `malloc`, so a file larger than memory is OUT_OF_MEMORY, not an abort.
    public static func withFileBytes<R>(
        _ path: String, _ body: (UnsafeRawBufferPointer) throws(SwiftRNNError) -> R
    ) throws(SwiftRNNError) -> R {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .init(.io, "cannot open '\(path)': \(errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .init(.io, "cannot stat '\(path)': \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw .init(.io, "'\(path)' is not a regular file (a directory, FIFO, socket or device)")
        }
        let size = Int(st.st_size)
        if size == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let base = malloc(size) else {
            throw .init(.outOfMemory, "cannot allocate \(size) bytes to read '\(path)'")
        }
        defer { free(base) }
        var done = 0
        while done < size {
            let n = pread(fd, base + done, size - done, off_t(done))
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw .init(.io, "cannot read '\(path)': \(errnoText())")
            }
            if n == 0 {
                throw .init(.io, "'\(path)' shrank to \(done) bytes while it was read (it was \(size)): was it being written?")
            }
            done += n
        }
        return try body(UnsafeRawBufferPointer(start: base, count: size))
    }

    /// Reads a whole file (data sets, corpora).
    public static func readAll(_ path: String) throws(SwiftRNNError) -> [UInt8] {
        try withFileBytes(path) { b throws(SwiftRNNError) in Array(b) }
    }

    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(SwiftRNNError) {
        let tmp = path + ".tmp"
        guard let f = fopen(tmp, "wb") else { throw .init(.io, "cannot create '\(tmp)': \(errnoText())") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let flushed = fflush(f) == 0
        fclose(f)
        guard written == bytes.count, flushed else {
            unlink(tmp)
            throw .init(.io, "cannot write '\(tmp)': \(errnoText())")
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw .init(.io, "cannot rename '\(tmp)' to '\(path)': \(errnoText())")
        }
    }
}
