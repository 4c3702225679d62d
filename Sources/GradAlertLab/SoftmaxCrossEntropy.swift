#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax cross-entropy with label smoothing ε: the target puts 1 − ε on the class and spreads ε
/// over all classes, which keeps logits — and their gradients — from growing without bound.
public enum SoftmaxCrossEntropy {
    /// Mean loss over the batch and its gradient with respect to the logits.
    public static func lossAndGradient(logits: Matrix, labels: [Int], smoothing: Float = 0) -> (loss: Float, gradient: Matrix) {
        let classes = logits.columns
        var gradient = logits
        var loss: Float = 0
        let batch = Float(logits.rows)
        for row in 0..<logits.rows {
            var largest = -Float.infinity
            for column in 0..<classes { largest = max(largest, logits[row, column]) }
            var total: Float = 0
            for column in 0..<classes { total += expf(logits[row, column] - largest) }
            let logTotal = logf(total) + largest
            for column in 0..<classes {
                let probability = expf(logits[row, column] - logTotal)
                let target = (column == labels[row] ? 1 - smoothing : 0) + smoothing / Float(classes)
                loss -= target * (logits[row, column] - logTotal) / batch
                gradient[row, column] = (probability - target) / batch
            }
        }
        return (loss, gradient)
    }

    /// The same loss as a hand-written softmax computes it: the probabilities as exp(logit) over the
    /// sum of exps, with no shift by the largest logit, then −Σ target·log(probability). Exact for
    /// small logits; once a logit passes about 88, expf overflows to +Inf and the probabilities,
    /// the loss and every gradient become NaN.
    public static func naiveLossAndGradient(logits: Matrix, labels: [Int], smoothing: Float = 0) -> (loss: Float, gradient: Matrix) {
        let classes = logits.columns
        var gradient = logits
        var loss: Float = 0
        let batch = Float(logits.rows)
        for row in 0..<logits.rows {
            var total: Float = 0
            for column in 0..<classes { total += expf(logits[row, column]) }
            for column in 0..<classes {
                let probability = expf(logits[row, column]) / total
                let target = (column == labels[row] ? 1 - smoothing : 0) + smoothing / Float(classes)
                if target > 0 { loss -= target * logf(probability) / batch }
                gradient[row, column] = (probability - target) / batch
            }
        }
        return (loss, gradient)
    }

    /// Fraction of rows whose largest logit is the label.
    public static func accuracy(logits: Matrix, labels: [Int]) -> Float {
        var correct = 0
        for row in 0..<logits.rows {
            var best = 0
            for column in 1..<logits.columns where logits[row, column] > logits[row, best] { best = column }
            if best == labels[row] { correct += 1 }
        }
        return Float(correct) / Float(max(logits.rows, 1))
    }
}
