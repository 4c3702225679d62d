/// One cause of gradient explosion, as the demo shows it: a baseline that explodes for that reason
/// and nothing else, and the remedies that address it, each changing one thing — plus, where it
/// teaches something, one that does not address it.
public struct Cause: Sendable {
    /// The folder the cause's runs go in, and the prefix of their names.
    public var id: String
    /// What goes wrong, in a few words ("learning rate too high").
    public var title: String
    /// Why that makes gradients explode, in a sentence.
    public var mechanism: String
    public var baseline: Experiment
    public var remedies: [Experiment]

    public var experiments: [Experiment] { [baseline] + remedies }

    init(id: String, title: String, mechanism: String, baseline: Experiment, remedies: [(name: String, change: String, remedy: Remedy?, edit: (inout Experiment) -> Void)]) {
        self.id = id
        self.title = title
        self.mechanism = mechanism
        var base = baseline
        base.name = id + "/baseline"
        self.baseline = base
        self.remedies = remedies.map { variant in
            var run = base
            run.name = id + "/" + variant.name
            run.change = variant.change
            run.remedy = variant.remedy
            variant.edit(&run)
            return run
        }
    }
}

import GradientDetection

extension Lab {
    /// The causes the demo trains, in the order it prints them: the five of DESIGN.md (a learning
    /// rate too high, weights initialised too large, a net too deep, an activation that amplifies
    /// without bound, no normalisation) and logits that grow without bound. Every remedy family is
    /// the fix in at least one of them.
    public static func causes() -> [Cause] {
        // Every MLP learns the spirals (3 classes) in batches of 128; healthy, this one reaches 100 %
        // in 300 steps with plain SGD at lr 0.02.
        var mlp = Experiment(name: "", change: "")
        mlp.task = .spirals
        mlp.depth = 4
        mlp.width = 32
        mlp.batch = 128
        mlp.activation = .relu
        mlp.initialisation = .kaiming
        mlp.optimiser = .sgd(learningRate: 0.02, momentum: 0.9)

        var highRate = mlp
        highRate.activation = .gelu
        highRate.optimiser = .sgd(learningRate: 0.5, momentum: 0.9)
        highRate.change = "4-layer GELU MLP, He init, SGD with momentum at lr 0.5 (25x what it needs)"

        var largeInit = mlp
        largeInit.depth = 6
        largeInit.initialisation = .normal(1.0)
        largeInit.change = "6-layer ReLU MLP, weights from normal(0, 1): 4x He's scale"

        var deep = mlp
        deep.depth = 24
        deep.initialisation = .normal(0.32)
        deep.change = "24-layer ReLU MLP, normal(0, 0.32) init (trains at 4 layers)"

        var relu = Experiment(name: "", change: "ReLU recurrent net, 40-step sequences, recurrent gain 1.8, SGD lr 0.01")
        relu.task = .firstSign(length: 40)
        relu.width = 24
        relu.batch = 128
        relu.activation = .relu
        relu.recurrentScale = 1.8
        relu.optimiser = .sgd(learningRate: 0.01, momentum: 0.9)

        var raw = mlp
        raw.inputScale = 50
        raw.optimiser = .sgd(learningRate: 0.05, momentum: 0.9)
        raw.change = "4-layer ReLU MLP on raw inputs (coordinates x50), He init, SGD lr 0.05"

        var confident = mlp
        confident.activation = .gelu
        confident.naiveSoftmax = true
        confident.optimiser = .sgd(learningRate: 0.3, momentum: 0.9)
        confident.change = "4-layer GELU MLP, SGD lr 0.3, hard 0/1 targets, a hand-written softmax"

        func lowerRate(_ run: inout Experiment) {
            switch run.optimiser {
            case .sgd(let rate, let momentum): run.optimiser = .sgd(learningRate: rate / 10, momentum: momentum)
            case .adam(let rate): run.optimiser = .adam(learningRate: rate / 10)
            case .rmsprop(let rate): run.optimiser = .rmsprop(learningRate: rate / 10)
            }
        }
        return [
            Cause(id: "lr-too-high", title: "learning rate too high",
                  mechanism: "each update overshoots, the next gradient is larger, and the steps grow until they overflow",
                  baseline: highRate, remedies: [
                    ("lower-lr", "learning rate 10x lower", .lowerLearningRate, lowerRate),
                    ("clip", "clip gradients by global norm 1.0", .clipGradients, { $0.clipNorm = 1.0 }),
                    ("adam", "Adam at lr 1e-3", .adaptiveOptimiser, { $0.optimiser = .adam(learningRate: 1e-3) }),
                    ("rmsprop", "RMSProp at lr 1e-3", .adaptiveOptimiser, { $0.optimiser = .rmsprop(learningRate: 1e-3) }),
                    ("label-smoothing", "label smoothing 0.1 (the loss is not the problem)", .smootherLoss, { $0.labelSmoothing = 0.1 }),
                  ]),
            Cause(id: "init-too-large", title: "weights initialised too large",
                  mechanism: "each layer multiplies the activations, and so the gradients, by about 4 from the very first step",
                  baseline: largeInit, remedies: [
                    ("kaiming", "He/Kaiming initialisation", .betterInitialisation, { $0.initialisation = .kaiming }),
                    ("layernorm", "LayerNorm after every hidden layer", .normalisation, { $0.layerNorm = true }),
                    ("lower-lr", "learning rate 10x lower (the weights are the problem, not the step)", .lowerLearningRate, lowerRate),
                  ]),
            Cause(id: "too-deep", title: "a net too deep",
                  mechanism: "a per-layer gain of 1.28 is 2.7x over 4 layers and 375x over 24: the product of the layers' Jacobians grows with depth",
                  baseline: deep, remedies: [
                    ("residual", "residual connections, each branch scaled by 0.1 (starts near the identity, as ReZero and SkipInit do)", .residualConnections, {
                        $0.residual = true
                        $0.residualScale = 0.1
                    }),
                    ("layernorm", "LayerNorm after every hidden layer", .normalisation, { $0.layerNorm = true }),
                    ("clip", "clip gradients by global norm 1.0", .clipGradients, { $0.clipNorm = 1.0 }),
                  ]),
            Cause(id: "unbounded-activation", title: "an activation that amplifies without bound",
                  mechanism: "ReLU passes the recurrent weights' gain of 1.8 on at every one of the 40 steps, forward and back: nothing bounds the product",
                  baseline: relu, remedies: [
                    ("tanh", "tanh instead of ReLU (bounded)", .smootherActivations, { $0.activation = .tanh }),
                    ("clip", "clip gradients by global norm 1.0 (bounds the update, not the activations)", .clipGradients, { $0.clipNorm = 1.0 }),
                    ("leaky-relu", "LeakyReLU instead of ReLU (still unbounded)", .smootherActivations, { $0.activation = .leakyRelu }),
                  ]),
            Cause(id: "no-normalisation", title: "no normalisation",
                  mechanism: "inputs 50x larger make the first layer's gradients 50x larger, and nothing brings the activations back in range",
                  baseline: raw, remedies: [
                    ("standardised-inputs", "inputs standardised to unit scale (what a BatchNorm on the inputs learns)", .normalisation, { $0.inputScale = 1 }),
                    ("layernorm", "LayerNorm after every hidden layer (the first layer still sees raw inputs)", .normalisation, { $0.layerNorm = true }),
                    ("lower-lr", "learning rate 10x lower", .lowerLearningRate, lowerRate),
                  ]),
            Cause(id: "overconfident-logits", title: "logits that grow without bound",
                  mechanism: "hard 0/1 targets reward ever-larger logits, which sharpen the loss; past about 88 a float32 exp overflows, and the loss and then every gradient turn NaN",
                  baseline: confident, remedies: [
                    ("label-smoothing", "label smoothing 0.1 (the best logits are finite)", .smootherLoss, { $0.labelSmoothing = 0.1 }),
                    ("log-softmax", "a numerically safe loss (log-softmax) and nothing else", .smootherLoss, { $0.naiveSoftmax = false }),
                  ]),
        ]
    }
}
