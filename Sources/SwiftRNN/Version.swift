import SwiftRNNABI

/// The library's version: include/swiftrnn.h's macros, the one place it is written (the
/// Makefile reads it from there too; the Python package's _version.py is checked against it).
public enum SwiftRNNVersion {
    public static let string: String = SWIFTRNN_VERSION_STRING
    public static let number = Int32(SWIFTRNN_VERSION_MAJOR * 10000 + SWIFTRNN_VERSION_MINOR * 100 + SWIFTRNN_VERSION_PATCH)
}
