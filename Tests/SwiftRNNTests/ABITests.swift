import XCTest
import SwiftRNNABI
@testable import SwiftRNN

/// The Swift side uses the header's names and numbers, not copies of them.
final class ABITests: XCTestCase {
    func testErrorCodesAreTheHeadersStatuses() {
        let pairs: [(SwiftRNNError.Code, swiftrnn_status)] = [
            (.invalidArgument, SWIFTRNN_ERR_INVALID_ARGUMENT), (.io, SWIFTRNN_ERR_IO), (.format, SWIFTRNN_ERR_FORMAT),
            (.unsupported, SWIFTRNN_ERR_UNSUPPORTED), (.wrongKind, SWIFTRNN_ERR_WRONG_KIND),
            (.bufferTooSmall, SWIFTRNN_ERR_BUFFER_TOO_SMALL), (.outOfMemory, SWIFTRNN_ERR_OUT_OF_MEMORY),
            (.internal, SWIFTRNN_ERR_INTERNAL), (.nonFinite, SWIFTRNN_ERR_NON_FINITE), (.cancelled, SWIFTRNN_ERR_CANCELLED),
        ]
        for (code, status) in pairs { XCTAssertEqual(UInt32(code.rawValue), status.rawValue, "\(code)") }
    }

    func testTheVersionIsTheHeaders() {
        XCTAssertEqual(SwiftRNNVersion.string, "\(SWIFTRNN_VERSION_MAJOR).\(SWIFTRNN_VERSION_MINOR).\(SWIFTRNN_VERSION_PATCH)")
    }
}
