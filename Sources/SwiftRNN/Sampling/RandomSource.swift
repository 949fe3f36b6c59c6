/// xoshiro256** seeded through splitmix64: small, fast, and the same stream on every platform,
/// so (model, prime, parameters, seed) always gives the same text.
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// The four words of the generator's state (saved with a generator's state).
    public var words: [UInt64] { [s.0, s.1, s.2, s.3] }

    /// A generator continuing from `words` (4 words, not all zero: xoshiro's one bad state).
    public init?(words w: [UInt64]) {
        guard w.count == 4, w.contains(where: { $0 != 0 }) else { return nil }
        s = (w[0], w[1], w[2], w[3])
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
