/// Conversions of the half-precision storage formats to F32, done once at load.
enum HalfFloat {
    /// IEEE 754 binary16 -> binary32, exact (every F16 value is an F32 value).
    ///
    /// Branch-free (the exponent cases are selects), so the loading loop vectorises: the
    /// conversion was an eighth of a cold start. Subnormals are renormalised by one float
    /// subtraction: `(mant + 2^-14 implicit) - 2^-14` is exact.
    @inline(__always)
    static func f16ToF32(_ h: UInt16) -> Float {
        let shiftedExp: UInt32 = 0x7C00 << 13
        var o = UInt32(h & 0x7FFF) << 13
        let exp = o & shiftedExp
        o &+= (127 - 15) << 23
        let special = o &+ ((128 - 16) << 23)                       // Inf, NaN
        let tiny = Float(bitPattern: o &+ (1 << 23)) - Float(bitPattern: 113 << 23)  // zero, subnormal
        let bits = exp == shiftedExp ? special : (exp == 0 ? tiny.bitPattern : o)
        return Float(bitPattern: bits | (UInt32(h & 0x8000) << 16))
    }

    /// `count` little-endian F16 values at `src` (any alignment) -> F32: CKernels' `f16_to_f32`
    /// (the same branch-free conversion, vectorised for the CPU's instruction set).
    static func convert(_ src: UnsafeRawPointer, count n: Int, into dst: UnsafeMutablePointer<Float>) {
        Kernels.simd.f16_to_f32(src, n, dst)
    }

    /// bfloat16 is the top half of an F32.
    @inline(__always)
    static func bf16ToF32(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// binary32 -> binary16, round to nearest even (for the writer).
    static func f32ToF16(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exp = Int((x >> 23) & 0xFF)
        var mant = x & 0x7F_FFFF
        if exp == 0xFF { return sign | 0x7C00 | (mant != 0 ? 0x200 : 0) }
        let e = exp - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }
        if e <= 0 {
            if e < -10 { return sign }
            mant |= 0x80_0000
            let shift = UInt32(14 - e)
            var h = mant >> shift
            let rem = mant & ((1 << shift) - 1)
            let half = UInt32(1) << (shift - 1)
            if rem > half || (rem == half && (h & 1) == 1) { h += 1 }
            return sign | UInt16(h)
        }
        var h = UInt32(e) << 10 | (mant >> 13)
        let rem = mant & 0x1FFF
        if rem > 0x1000 || (rem == 0x1000 && (h & 1) == 1) { h += 1 }
        return sign | UInt16(h)
    }

    /// Whether binary16 holds every value of `v` exactly (NaN payloads aside), so storing it
    /// half loses nothing.
    static func isExact(_ v: FloatBuffer) -> Bool {
        for k in 0..<v.count {
            let f = v[k]
            if f.isNaN { continue }
            if f16ToF32(f32ToF16(f)).bitPattern != f.bitPattern { return false }
        }
        return true
    }

    static func f32ToBF16(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        if f.isNaN { return UInt16(x >> 16) | 0x40 }
        let rounded = x &+ 0x7FFF &+ ((x >> 16) & 1)
        return UInt16(rounded >> 16)
    }
}
