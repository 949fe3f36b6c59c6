// libFuzzer: arbitrary bytes as a model file, through the C API's load-from-memory, then each
// query a loaded model answers. Anything but a clean status is a bug.
import CSwiftRNN

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    var model: OpaquePointer? = nil
    let status = swiftrnn_model_load_from_memory(UnsafeRawPointer(data), size, &model)
    if status == 0 {
        guard let model else { fatalError("OK without a model") }
        _ = swiftrnn_model_describe(model)
        var p: Float = 0
        _ = swiftrnn_score_sentiment(model, "a fine film", 11, &p)
        var out = [CChar](repeating: 0, count: 64)
        var n = 0
        _ = swiftrnn_sample_text(model, "a", 1, 8, nil, &out, out.count, &n)
        swiftrnn_model_free(model)
    } else if model != nil {
        fatalError("failed load left a model")
    }
    return 0
}
