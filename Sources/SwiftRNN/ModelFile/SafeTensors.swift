#if canImport(Glibc)
import Glibc
#endif

/// A parsed, validated safetensors container: the header's tensors and metadata over a borrowed
/// byte buffer. Nothing here trusts the file: every size is checked before it is used.
public struct SafeTensors {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32", i8 = "I8"

        public var size: Int {
            switch self {
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .i64: return 8
            case .i8: return 1
            }
        }

        public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
    }

    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data section.
        public let begin: Int
        public let end: Int
        public var count: Int { (end - begin) / dtype.size }
    }

    /// Header length cap: a real header for the book's models is a few hundred KB (the
    /// vocabulary); 100 MiB bounds what a hostile length can make us allocate.
    public static let maxHeaderSize = 100 << 20

    public let metadata: [String: String]
    /// Tensors in header order.
    public let entries: [Entry]
    private let index: [String: Int]
    private let data: UnsafeRawBufferPointer

    public subscript(name: String) -> Entry? { index[name].map { entries[$0] } }

    /// Parses and validates `bytes`, which must stay alive while this value is used.
    public init(bytes: UnsafeRawBufferPointer) throws(SwiftRNNError) {
        // A safetensors file is an 8-byte little-endian header length, then the JSON header,
        // which begins with '{'. Anything else is named before its first bytes are read as a
        // length (README.md would otherwise be "header length 7599669762723684387").
        if !(bytes.count > 8 && bytes[8] == UInt8(ascii: "{")), let what = SafeTensors.foreignFormat(bytes) {
            throw .format("not a safetensors model file: \(what)")
        }
        guard bytes.count >= 8 else {
            throw .format("not a safetensors model file: \(bytes.count) bytes, too short for a safetensors header (8-byte length)")
        }
        guard bytes.count == 8 || bytes[8] == UInt8(ascii: "{") else {
            let hex = String(bytes[8], radix: 16, uppercase: true)
            throw .format("not a safetensors model file: byte 8 is 0x\(hex.count == 1 ? "0" : "")\(hex), not the '{' that begins a safetensors header")
        }
        var n: UInt64 = 0
        for k in 0..<8 { n |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        guard n <= UInt64(SafeTensors.maxHeaderSize) else {
            if let what = SafeTensors.foreignFormat(bytes) { throw .format("not a safetensors model file: \(what)") }
            throw .format("header length \(n) exceeds the limit of \(SafeTensors.maxHeaderSize) bytes")
        }
        guard n >= 2 else { throw .format("header length \(n) is too small for a JSON object") }
        guard Int(n) <= bytes.count - 8 else {
            throw .format("header length \(n) runs past the end of the file (\(bytes.count) bytes): truncated file?")
        }
        let headerEnd = 8 + Int(n)
        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<headerEnd])
        let json = try JSONParser.parse(header)
        guard case let .object(members) = json else { throw .format("header is not a JSON object") }

        data = UnsafeRawBufferPointer(rebasing: bytes[headerEnd...])
        var meta: [String: String] = [:]
        var list: [Entry] = []
        for (key, value) in members {
            if key == "__metadata__" {
                guard case let .object(kv) = value else { throw .format("__metadata__ is not an object") }
                for (k, v) in kv {
                    guard let s = v.string else { throw .format("__metadata__ value for '\(k)' is not a string") }
                    meta[k] = s
                }
                continue
            }
            list.append(try SafeTensors.entry(name: key, value, dataSize: data.count))
        }
        // Offsets must not overlap: sort by begin and compare neighbours.
        let sorted = list.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw .format("tensors '\(a.name)' and '\(b.name)' overlap in the data section")
        }
        metadata = meta
        entries = list
        var idx: [String: Int] = [:]
        for (k, e) in list.enumerated() { idx[e.name] = k }
        index = idx
    }

    /// What a file that is not a safetensors is, when its first bytes say so: a PyTorch
    /// checkpoint (a zip archive with a `data.pkl` entry, or a legacy pickle), another zip, a
    /// gzip, HTML or XML, text. nil for anything else.
    static func foreignFormat(_ b: UnsafeRawBufferPointer) -> String? {
        let torch = "a PyTorch checkpoint; convert it with python -m swiftrnn.export"
        if b.count >= 4, b[0] == 0x50, b[1] == 0x4B, [(3, 4), (5, 6), (7, 8)].contains(where: { b[2] == $0.0 && b[3] == $0.1 }) {
            return zipEntryNames(b).contains { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") } ? torch : "a zip archive"
        }
        if b.count >= 2, b[0] == 0x80, (2...5).contains(b[1]) { return torch }
        if b.count >= 2, b[0] == 0x1F, b[1] == 0x8B { return "a gzip-compressed file" }
        if b.count == 0 { return nil }
        // Text: the first KB (a UTF-8 sequence may be cut at the end) decodes, with no control
        // characters but tab, newline, carriage return and form feed.
        var head = Array(UnsafeRawBufferPointer(rebasing: b[0..<min(b.count, 1024)]))
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { head.removeFirst(3) }
        if b.count > 1024 { while let last = head.last, last & 0xC0 == 0x80 || last >= 0xC0 { head.removeLast(); if last >= 0xC0 { break } } }
        guard !head.isEmpty, let text = String(validating: head, as: UTF8.self),
              text.unicodeScalars.allSatisfy({ $0.value >= 0x20 || [0x09, 0x0A, 0x0C, 0x0D].contains($0.value) }),
              !text.unicodeScalars.contains(where: { $0.value == 0x7F })
        else { return nil }
        let trimmed = text.drop { $0.isWhitespace }
        let lower = trimmed.prefix(64).lowercased()
        if lower.hasPrefix("<!doctype html") || lower.hasPrefix("<html") { return "an HTML page" }
        if lower.hasPrefix("<") { return "HTML or XML text" }
        let firstLine = trimmed.prefix { $0 != "\n" && $0 != "\r" }
        let quoted = firstLine.count > 40 ? String(firstLine.prefix(40)) + "..." : String(firstLine)
        return quoted.isEmpty ? "text" : "text (starting \"\(quoted)\")"
    }

    /// The entry names of a zip archive, from its central directory (bounded and checked; an
    /// archive it cannot read gives the names it got, or none).
    static func zipEntryNames(_ b: UnsafeRawBufferPointer) -> [String] {
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        // End of central directory: 22 bytes plus a comment of up to 65,535, at the end.
        guard b.count >= 22 else { return [] }
        var eocd = -1
        var o = b.count - 22
        while o >= max(0, b.count - 22 - 65_535) {
            if b[o] == 0x50, b[o + 1] == 0x4B, b[o + 2] == 5, b[o + 3] == 6 { eocd = o; break }
            o -= 1
        }
        // The first local header's name too (PyTorch writes data.pkl first), for an archive
        // whose central directory is unreadable (cut short, or zip64).
        var names: [String] = []
        if b.count >= 30, u32(0) == 0x0403_4B50, 30 + u16(26) <= b.count {
            names.append(String(decoding: UnsafeRawBufferPointer(rebasing: b[30..<(30 + u16(26))]), as: UTF8.self))
        }
        guard eocd >= 0 else { return names }
        let count = u16(eocd + 10)
        var p = u32(eocd + 16)   // a zip64 archive has 0xFFFFFFFF here: out of range below
        for _ in 0..<min(count, 100_000) {
            guard p >= 0, p + 46 <= b.count, u32(p) == 0x0201_4B50 else { break }
            let nameLen = u16(p + 28), extra = u16(p + 30), comment = u16(p + 32)
            guard p + 46 + nameLen <= b.count else { break }
            names.append(String(decoding: UnsafeRawBufferPointer(rebasing: b[(p + 46)..<(p + 46 + nameLen)]), as: UTF8.self))
            p += 46 + nameLen + extra + comment
        }
        return names
    }

    private static func entry(name: String, _ value: JSONValue, dataSize: Int) throws(SwiftRNNError) -> Entry {
        guard case let .object(fields) = value else { throw .format("tensor '\(name)': entry is not an object") }
        var dtypeText: String?
        var shapeValue: JSONValue?
        var offsetsValue: JSONValue?
        for (k, v) in fields {
            switch k {
            case "dtype": dtypeText = v.string
            case "shape": shapeValue = v
            case "data_offsets": offsetsValue = v
            default: break
            }
        }
        guard let dtypeText else { throw .format("tensor '\(name)': missing or non-string dtype") }
        guard let dtype = DType(rawValue: dtypeText) else {
            throw .init(.unsupported, "tensor '\(name)': dtype \(dtypeText) is not supported (F32, F16, BF16, I8)")
        }
        guard case let .array(dims)? = shapeValue else { throw .format("tensor '\(name)': missing shape") }
        guard dims.count <= 8 else { throw .format("tensor '\(name)': \(dims.count) dimensions (at most 8)") }
        var shape: [Int] = []
        var elements: UInt64 = 1
        for d in dims {
            guard let u = d.uint64, u <= UInt64(Int32.max) else {
                throw .format("tensor '\(name)': shape entries must be integers in 0...\(Int32.max)")
            }
            let (p, o) = elements.multipliedReportingOverflow(by: u)
            guard !o else { throw .format("tensor '\(name)': shape \(dims.map { $0.uint64 ?? 0 }) overflows") }
            elements = p
            shape.append(Int(u))
        }
        guard case let .array(offs)? = offsetsValue, offs.count == 2,
              let begin = offs[0].uint64, let end = offs[1].uint64
        else { throw .format("tensor '\(name)': data_offsets must be two non-negative integers") }
        guard begin <= end else { throw .format("tensor '\(name)': data_offsets [\(begin), \(end)] are reversed") }
        guard end <= UInt64(dataSize) else {
            throw .format("tensor '\(name)': data_offsets [\(begin), \(end)] run past the data section (\(dataSize) bytes)")
        }
        let (bytes, o) = elements.multipliedReportingOverflow(by: UInt64(dtype.size))
        guard !o, bytes == end - begin else {
            throw .format("tensor '\(name)': \(end - begin) bytes of data for shape \(shape) of \(dtype.rawValue) (expected \(o ? "overflow" : String(bytes)))")
        }
        guard begin % UInt64(dtype.size) == 0 else {
            throw .format("tensor '\(name)': offset \(begin) is not aligned to its \(dtype.size)-byte elements")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: Int(begin), end: Int(end))
    }

    /// The tensor's values converted to F32 (any float dtype; integers too, for fixtures).
    public func floats(_ e: Entry) -> FloatBuffer {
        let raw = UnsafeRawBufferPointer(rebasing: data[e.begin..<e.end])
        let n = e.count
        return FloatBuffer(unsafeUninitializedCount: n) { buf in
            switch e.dtype {
            case .f32:
                for k in 0..<n { buf[k] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self).littleEndian) }
            case .f16:
                HalfFloat.convert(raw.baseAddress!, count: n, into: buf.baseAddress!)
            case .bf16:
                for k in 0..<n { buf[k] = HalfFloat.bf16ToF32(raw.loadUnaligned(fromByteOffset: 2 * k, as: UInt16.self).littleEndian) }
            case .i64:
                for k in 0..<n { buf[k] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self))) }
            case .i32:
                for k in 0..<n { buf[k] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self))) }
            case .i8:
                for k in 0..<n { buf[k] = Float(Int8(bitPattern: raw[k])) }
            }
        }
    }

    /// Integer tensors (I64/I32) as Int.
    public func ints(_ e: Entry) -> [Int] {
        let raw = UnsafeRawBufferPointer(rebasing: data[e.begin..<e.end])
        switch e.dtype {
        case .i64: return (0..<e.count).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
        case .i32: return (0..<e.count).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        default: return floats(e).map { Int($0) }
        }
    }
}

/// Builds a safetensors file in memory (training checkpoints, tests, the CLI).
public struct SafeTensorsWriter {
    private var tensors: [(name: String, dtype: SafeTensors.DType, shape: [Int], bytes: [UInt8])] = []
    public var metadata: [(String, String)] = []

    public init() {}

    /// An I8 tensor.
    public mutating func add(_ name: String, shape: [Int], int8 values: [Int8]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        tensors.append((name, .i8, shape, values.map { UInt8(bitPattern: $0) }))
    }

    public mutating func add(_ name: String, shape: [Int], floats: FloatBuffer, dtype: SafeTensors.DType = .f32) {
        add(name, shape: shape, floats: floats.array, dtype: dtype)
    }

    public mutating func add(_ name: String, shape: [Int], floats: [Float], dtype: SafeTensors.DType = .f32) {
        precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not match \(floats.count) values")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(floats.count * dtype.size)
        for f in floats {
            switch dtype {
            case .f32: withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            case .f16: withUnsafeBytes(of: HalfFloat.f32ToF16(f).littleEndian) { bytes.append(contentsOf: $0) }
            case .bf16: withUnsafeBytes(of: HalfFloat.f32ToBF16(f).littleEndian) { bytes.append(contentsOf: $0) }
            case .i64: withUnsafeBytes(of: Int64(f).littleEndian) { bytes.append(contentsOf: $0) }
            case .i32: withUnsafeBytes(of: Int32(f).littleEndian) { bytes.append(contentsOf: $0) }
            case .i8: bytes.append(UInt8(bitPattern: Int8(f)))
            }
        }
        tensors.append((name, dtype, shape, bytes))
    }

    public func serialize() -> [UInt8] {
        // Larger elements first (stable): every tensor then starts at a multiple of its element
        // size, as readers require, whatever the byte counts of the int8 matrices before it.
        let tensors = self.tensors.enumerated().sorted {
            ($0.element.dtype.size, -$0.offset) > ($1.element.dtype.size, -$1.offset)
        }.map(\.element)
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.map { JSONWriter.quote($0.0) + ":" + JSONWriter.quote($0.1) }.joined(separator: ",")
            header += "}"
        }
        var offset = 0
        for t in tensors {
            if header.utf8.count > 1 { header += "," }
            header += JSONWriter.quote(t.name) + ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":["
            header += t.shape.map(String.init).joined(separator: ",")
            header += "],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}"
            offset += t.bytes.count
        }
        header += "}"
        while (header.utf8.count % 8) != 0 { header += " " }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.utf8.count + offset)
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header.utf8)
        for t in tensors { out.append(contentsOf: t.bytes) }
        return out
    }

    /// Writes atomically: to `path.tmp`, then rename, so a crash never leaves half a model.
    public func write(to path: String) throws(SwiftRNNError) {
        try FileIO.writeAtomically(serialize(), to: path)
    }
}
