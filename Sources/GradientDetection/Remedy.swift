/// The eight remedy families for exploding (and vanishing) gradients, roughly in the order a
/// practitioner tries them. docs/remedies.md says when each applies.
public enum Remedy: String, Sendable, CaseIterable {
    case lowerLearningRate = "lower_learning_rate"
    case clipGradients = "clip_gradients"
    case betterInitialisation = "better_initialisation"
    case smootherActivations = "smoother_activations"
    case normalisation = "normalisation"
    case residualConnections = "residual_connections"
    case adaptiveOptimiser = "adaptive_optimiser"
    case smootherLoss = "smoother_loss"

    /// A short imperative: what to try.
    public var advice: String {
        switch self {
        case .lowerLearningRate: "lower the learning rate (try 10x lower, or a longer warm-up)"
        case .clipGradients: "clip gradients by global norm (max_norm around 1.0 to start)"
        case .betterInitialisation: "use a scaled initialisation (He/Kaiming for ReLU, Xavier/Glorot for tanh/sigmoid)"
        case .smootherActivations: "use a bounded or smoother activation (LeakyReLU, ELU, GELU, tanh) where ReLU amplifies"
        case .normalisation: "add normalisation (LayerNorm or BatchNorm) to keep activations, and so gradients, in range"
        case .residualConnections: "add residual connections to shorten the gradient path through deep stacks"
        case .adaptiveOptimiser: "use an adaptive optimiser (Adam, RMSProp) that normalises each parameter's step"
        case .smootherLoss: "smooth the loss (label smoothing; guard log/exp/division against 0 and overflow)"
        }
    }
}
