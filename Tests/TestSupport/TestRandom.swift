import GradAlertLab

/// Deterministic random numbers for tests: the lab's SplitMix64 (`LabRandom`), with the draws the
/// tests use in double precision, and usable wherever Swift takes a `RandomNumberGenerator`.
public struct TestRandom: RandomNumberGenerator {
    private var source: LabRandom

    public init(seed: UInt64) { source = LabRandom(seed: seed) }

    public mutating func next() -> UInt64 { source.next() }

    /// Uniform in [0, 1), 53 bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double { source.standardNormal() }
}
