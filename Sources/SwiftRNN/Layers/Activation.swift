/// Elementwise activations of the heads, in place, and their backward.
public enum Activation {
    /// `max(x, 0)`, NaN kept (as `torch.relu`).
    public static func relu(_ x: inout FloatBuffer) {
        let s = x.mutableSpan()
        for k in 0..<s.count where !(s[k] > 0) { s[k] = s[k].isNaN ? s[k] : 0 }
    }

    /// Zeroes the gradient `dy` where the pre-activation `z` was not positive.
    public static func reluBackward(_ dy: inout FloatBuffer, preActivation z: FloatBuffer) {
        let d = dy.mutableSpan(), zs = z.span()
        for k in 0..<d.count where !(zs[k] > 0) { d[k] = 0 }
    }
}
