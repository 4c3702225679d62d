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
    /// The global norm after clipping (≤ the clip bound by construction): not watched by any rule,
    /// but its presence says clipping is active, which changes what to advise.
    case clippedGradientNorm

    /// The roles that measure gradients and that rules watch (a post-clip norm is not one).
    public var isGradient: Bool { self != .loss && self != .clippedGradientNorm }
}
