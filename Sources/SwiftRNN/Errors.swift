/// What went wrong, in the categories of the C API's `swiftrnn_status`.
///
/// Every failure in the library is a ``SwiftRNNError``: a category a program can branch on and a
/// message a person can act on ("tensor 'rnn.weight_hh_l0' has shape [256, 63], expected
/// [256, 64]"). The C layer maps `code` to a status and keeps `message` for `swiftrnn_last_error`.
public struct SwiftRNNError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Code: Int32, Sendable {
        case invalidArgument = 1
        case io = 2
        case format = 3
        case unsupported = 4
        case wrongKind = 5
        case bufferTooSmall = 6
        case outOfMemory = 7
        case `internal` = 8
        /// The model computed a NaN or an infinity (weights that overflow Float on this input).
        case nonFinite = 9
        /// The caller's progress callback asked to stop.
        case cancelled = 10
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func format(_ message: String) -> SwiftRNNError { .init(.format, message) }
    public static func invalid(_ message: String) -> SwiftRNNError { .init(.invalidArgument, message) }
    public static func nonFinite(_ what: String) -> SwiftRNNError {
        .init(.nonFinite, "the model produced a non-finite value (NaN or infinity) \(what): its weights overflow Float on this input")
    }
}
