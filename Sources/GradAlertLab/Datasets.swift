#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Interleaved spirals: `classes` arms winding around the origin, with noise. A task an MLP has to
/// bend its decision boundary for; generated in code, the same for a given seed.
public struct Spirals: Sendable {
    public var inputs: Matrix
    public var labels: [Int]

    public init(pointsPerClass: Int, classes: Int = 3, noise: Float = 0.15, seed: UInt64) {
        var random = LabRandom(seed: seed)
        var values: [Float] = []
        var labels: [Int] = []
        for c in 0..<classes {
            for i in 0..<pointsPerClass {
                let radius = Float(i) / Float(pointsPerClass) * 1.0 + 0.05
                let angle = Float(c) * 2 * .pi / Float(classes) + radius * 4 + random.normal() * noise
                values += [radius * cosf(angle), radius * sinf(angle)]
                labels.append(c)
            }
        }
        inputs = Matrix(rows: labels.count, columns: 2, values: values)
        self.labels = labels
    }

    /// A batch of `size` rows drawn with `random`.
    public func batch(_ size: Int, random: inout LabRandom) -> (Matrix, [Int]) {
        var values: [Float] = []
        var labels: [Int] = []
        values.reserveCapacity(size * 2)
        for _ in 0..<size {
            let row = Int(random.next() % UInt64(self.labels.count))
            values += [inputs[row, 0], inputs[row, 1]]
            labels.append(self.labels[row])
        }
        return (Matrix(rows: size, columns: 2, values: values), labels)
    }
}

/// A long-memory task for recurrent nets: a sequence of `length` noisy values whose class is the
/// sign of the first one. The answer has to travel through every step of the recurrence.
public struct FirstSignTask: Sendable {
    public let length: Int

    public init(length: Int) { self.length = length }

    /// A batch: `sequence[t]` is (batch × 1), labels 0 (negative) or 1 (positive).
    public func batch(_ size: Int, random: inout LabRandom) -> ([Matrix], [Int]) {
        var steps = (0..<length).map { _ in Matrix(zeros: size, 1) }
        var labels: [Int] = []
        for row in 0..<size {
            let sign: Float = random.uniform() < 0.5 ? -1 : 1
            labels.append(sign > 0 ? 1 : 0)
            steps[0][row, 0] = sign
            for t in 1..<length { steps[t][row, 0] = random.normal() * 0.3 }
        }
        return (steps, labels)
    }
}
