/// What a series measures; rules and remedies depend on it.
public enum SeriesRole: Sendable, Hashable {
    /// The norm of all gradients together (one number per step).
    case globalGradientNorm
    /// The gradient norm of one layer or parameter.
    case layerGradientNorm
    /// The largest |gradient| of a layer (spikes and non-finite values count; not part of a norm).
    case layerGradientMax
    /// A training loss.
    case loss

    public var isGradient: Bool { self != .loss }
}
