#if canImport(Glibc)
import Glibc
#endif

/// Files through Glibc: mmap for reading models, write + rename for saving them.
public enum FileIO {
    private static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Maps `path` read-only and passes its bytes to `body`; unmaps afterwards.
    public static func withMappedFile<R>(
        _ path: String, _ body: (UnsafeRawBufferPointer) throws(SwiftRNNError) -> R
    ) throws(SwiftRNNError) -> R {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .init(.io, "cannot open '\(path)': \(errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .init(.io, "cannot stat '\(path)': \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .init(.io, "'\(path)' is not a regular file") }
        let size = Int(st.st_size)
        if size == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw .init(.io, "cannot map '\(path)': \(errnoText())")
        }
        defer { munmap(base, size) }
        return try body(UnsafeRawBufferPointer(start: base, count: size))
    }

    /// Reads a whole file (data sets, corpora).
    public static func readAll(_ path: String) throws(SwiftRNNError) -> [UInt8] {
        try withMappedFile(path) { b throws(SwiftRNNError) in Array(b) }
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
