/// Chooses remedies from what happened.
public enum RemedyAdvisor {
    public struct Situation: Sendable {
        public var kind: AlertKind
        public var role: SeriesRole
        /// Steps since training began (a blow-up in the first steps points at initialisation);
        /// Int.max when the data does not start at the beginning of training.
        public var stepsSinceStart: Int
        /// The loss went non-finite before any gradient did.
        public var lossFirst: Bool
        /// Set when, in the first steps of training, the value was judged on its absolute scale
        /// (a norm no healthy gradient reaches).
        public var absurdScale: Bool
        /// Set when the norm jumped in the first steps and the loss jumped with it: the model was
        /// fine at the start and the first updates broke it (the step size, not the weights).
        public var firstUpdatesBroke: Bool
        /// A post-clip norm is logged: gradients are already clipped.
        public var clippingActive: Bool
        /// The run has recurrent layers (a gradient series named like rnn, lstm, gru, recurrent):
        /// backpropagation through time multiplies by the recurrent weights once per time step.
        public var recurrent: Bool

        public init(
            kind: AlertKind, role: SeriesRole, stepsSinceStart: Int, lossFirst: Bool = false, absurdScale: Bool = false,
            firstUpdatesBroke: Bool = false, clippingActive: Bool = false, recurrent: Bool = false
        ) {
            self.kind = kind
            self.role = role
            self.stepsSinceStart = stepsSinceStart
            self.lossFirst = lossFirst
            self.absurdScale = absurdScale
            self.firstUpdatesBroke = firstUpdatesBroke
            self.clippingActive = clippingActive
            self.recurrent = recurrent
        }
    }

    public static func remedies(for situation: Situation) -> [Remedy] {
        let remedies = ranked(for: situation)
        // Advice to clip is no advice when the run clips already.
        return situation.clippingActive ? remedies.filter { $0 != .clipGradients } : remedies
    }

    private static func ranked(for situation: Situation) -> [Remedy] {
        if situation.kind == .vanishing {
            return [.betterInitialisation, .residualConnections, .normalisation, .smootherActivations, .adaptiveOptimiser]
        }
        if situation.kind == .collapse {
            // Usually units that a large update pushed into a dead or saturated region for good.
            return [.lowerLearningRate, .smootherActivations, .clipGradients, .normalisation, .betterInitialisation]
        }
        if situation.kind == .cliffs {
            // Repeated cliffs: each step that lands on a steep wall of the loss throws the weights
            // far; a smaller step, an adaptive one, or a better-conditioned net.
            return [.clipGradients, .lowerLearningRate, .adaptiveOptimiser, .normalisation, .smootherActivations]
        }
        if situation.firstUpdatesBroke {
            // Fine at the start, broken by the first updates: the step size.
            return [.lowerLearningRate, .clipGradients, .normalisation, .betterInitialisation]
        }
        if situation.recurrent, [.spike, .nonfinite, .growth, .threshold].contains(situation.kind),
           !(situation.kind == .nonfinite && (situation.role == .loss || situation.lossFirst)) {
            // A recurrent net: the classic cure is clipping (Pascanu et al.), then a bounded or
            // gated activation, then recurrent weights that start at a gain of at most one.
            return [.clipGradients, .smootherActivations, .betterInitialisation, .lowerLearningRate]
        }
        if situation.absurdScale || (situation.stepsSinceStart <= 2 && (situation.role.isGradient || situation.kind == .spike)) {
            // Too large from the first steps (the loss with them): the weights started too large,
            // or the net is too deep for them.
            return [.betterInitialisation, .normalisation, .lowerLearningRate, .residualConnections, .clipGradients]
        }
        switch (situation.kind, situation.role) {
        case (.nonfinite, let role) where role == .loss || situation.lossFirst:
            // The loss broke before any gradient: an overflowing or undefined loss (log 0, exp).
            return [.smootherLoss, .lowerLearningRate, .clipGradients]
        case (.nonfinite, _):
            return [.lowerLearningRate, .clipGradients, .betterInitialisation, .normalisation]
        case (.spike, .loss), (.threshold, .loss):
            return [.lowerLearningRate, .clipGradients, .smootherLoss]
        case (.spike, _):
            // One sudden jump: cap the update so one bad batch cannot wreck the weights.
            return [.clipGradients, .lowerLearningRate, .adaptiveOptimiser, .normalisation]
        case (.growth, _):
            // Sustained compounding: the step size, or a deep product of Jacobians.
            return [.lowerLearningRate, .clipGradients, .normalisation, .residualConnections, .smootherActivations]
        case (.threshold, _):
            return [.clipGradients, .lowerLearningRate]
        case (.vanishing, _), (.collapse, _), (.cliffs, _):
            return []
        }
    }
}
