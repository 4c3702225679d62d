/// A trainable tensor: its values and its gradient, stored flat (row-major) with a shape.
///
/// A reference type, so a model holds it wherever it likes — a stored property of a struct or a
/// class, inside arrays or dictionaries of layers — and gradalert finds it there by reflection
/// (`ParameterDiscovery`), the way PyTorch's `named_parameters()` does.
public final class Parameter: @unchecked Sendable {
    public let shape: [Int]
    /// The values, flat and row-major.
    public var values: [Float]
    /// The gradient of the loss with respect to `values`, same layout; zero until a backward pass.
    public var gradient: [Float]

    public var count: Int { values.count }

    /// A parameter of the given shape, all zero, or filled by `initialiser(index)`.
    public init(shape: [Int], initialiser: ((Int) -> Float)? = nil) {
        // fatalError, not precondition: its message survives -O, where a user needs it most.
        if !shape.allSatisfy({ $0 >= 0 }) { fatalError("Parameter(shape: \(shape)): a shape has no negative dimensions") }
        self.shape = shape
        let count = shape.reduce(1, *)
        values = initialiser.map { make in (0..<count).map(make) } ?? [Float](repeating: 0, count: count)
        gradient = [Float](repeating: 0, count: count)
    }

    /// A parameter holding `values`.
    public init(shape: [Int], values: [Float]) {
        if shape.reduce(1, *) != values.count || !shape.allSatisfy({ $0 >= 0 }) {
            fatalError("Parameter(shape: \(shape), values:): the shape holds \(shape.allSatisfy { $0 >= 0 } ? shape.reduce(1, *) : 0) values, but \(values.count) were given")
        }
        self.shape = shape
        self.values = values
        gradient = [Float](repeating: 0, count: values.count)
    }

    /// Sets every gradient element to zero (before the next backward pass), one per value: a
    /// gradient of another length is replaced by zeros of the right one.
    public func zeroGradient() {
        if gradient.count != values.count {
            gradient = [Float](repeating: 0, count: values.count)
        } else {
            gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }
}
