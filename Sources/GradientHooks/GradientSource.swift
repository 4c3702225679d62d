/// A model that keeps its own storage (another framework's tensors, GPU staging buffers): it names
/// its parameters and lends each gradient for the duration of a closure.
public protocol GradientSource {
    /// Parameter names, in a stable order.
    var parameterNames: [String] { get }
    /// Calls `body` with the gradient of `name`, valid only inside the call.
    func withGradient<R>(of name: String, _ body: (GradientBuffer) throws -> R) rethrows -> R
    /// Calls `body` with the values of `name`; nil when the model does not share them (the
    /// default). `GradientMonitor` uses it for the update-to-weight ratio (`Options.updateRatio`).
    func withValues<R>(of name: String, _ body: (GradientBuffer) throws -> R) rethrows -> R?
    /// Scales the gradient of `name` in place by `factor`; false when the model does not allow
    /// it (then clipping is not available).
    func scaleGradient(of name: String, by factor: Double) -> Bool
}

extension GradientSource {
    public func withValues<R>(of name: String, _ body: (GradientBuffer) throws -> R) rethrows -> R? { nil }
    public func scaleGradient(of name: String, by factor: Double) -> Bool { false }
}
