import GradientHooks

/// A recurrent layer reading the sequence, then a dense layer on its last state.
public final class RecurrentClassifier {
    public let rnn: Recurrent
    public let head: Dense

    init(_ experiment: Experiment, random: inout LabRandom) {
        rnn = Recurrent(inputs: 1, hidden: experiment.width, activation: experiment.activation, inputScale: 1,
                        recurrentScale: experiment.recurrentScale, random: &random)
        head = Dense(experiment.width, 2, initialisation: .xavier, random: &random)
    }

    public var parameters: [Parameter] { rnn.parameters + head.parameters }

    public func forward(_ sequence: [Matrix]) -> Matrix { head.forward(rnn.forward(sequence)) }

    public func backward(_ gradient: Matrix) { rnn.backward(head.backward(gradient)) }
}
