import TensorBoardEvents

/// Clipping: PyTorch's global-norm and value clipping over the watched gradients, and the spike
/// guard's clip.
extension GradientMonitor {
    /// Clips the watched parameters' gradients (PyTorch's `clip_grad_norm_`); returns the total
    /// norm before clipping. Sources that cannot scale their gradients are measured but not
    /// clipped. Called right after `record` for the same step, with the L2 norm, it reuses the
    /// norms `record` measured instead of reading every gradient again — so call it before anything
    /// else changes the gradients.
    @discardableResult
    public func clipGradNorm(maxNorm: Double, normType: Double = 2, errorIfNonfinite: Bool = false) throws -> Double {
        var norms: [Double]
        var scalable: [(any GradientSource, String)] = []
        for source in sources {
            for name in source.parameterNames where options.filter.matches(name) { scalable.append((source, name)) }
        }
        // The norms `record` measured serve this one call: a later one (another step's, or after
        // the gradients changed in ways the monitor cannot see) measures again.
        let measuredByRecord = lastNorms
        lastNorms = nil
        if normType == 2, let measured = measuredByRecord, measured.count == parameters.count + scalable.count {
            norms = measured
        } else {
            norms = parameters.map { entry in entry.parameter.gradient.withUnsafeBufferPointer { GradientClipping.norm($0, type: normType) } }
            for (source, name) in scalable { norms.append(source.withGradient(of: name) { GradientClipping.norm($0, type: normType) }) }
        }
        let (total, factor) = try GradientClipping.clipping(norms: norms, maxNorm: maxNorm, normType: normType, errorIfNonfinite: errorIfNonfinite)
        scaleWatchedGradients(by: factor, sources: scalable)
        return total
    }

    /// Clamps the watched parameters' gradients to [-clipValue, clipValue].
    public func clipGradValue(_ clipValue: Float) {
        GradientClipping.clipGradValue(parameters.map(\.parameter), clipValue)
        lastNorms = nil
    }

    /// Multiplies every watched gradient by `factor` (1 changes nothing, and is skipped).
    func scaleWatchedGradients(by factor: Float, sources scalable: [(any GradientSource, String)]? = nil) {
        guard factor != 1 else { return }
        for (_, parameter) in parameters {
            parameter.gradient.withUnsafeMutableBufferPointer { gradient in
                for index in gradient.indices { gradient[index] *= factor }
            }
        }
        let targets = scalable ?? sources.flatMap { source in source.parameterNames.filter(options.filter.matches).map { (source, $0) } }
        for (source, name) in targets { _ = source.scaleGradient(of: name, by: Double(factor)) }
        lastNorms = nil
    }

    /// The spike guard's decision for this step's global norm; a clip scales the watched
    /// gradients now, and either action is logged under `gradalert/guard_*`.
    func guardStep(_ global: Double, step: Int, wallTime: Double) -> SpikeGuard.Decision {
        guard var spikeGuard = self.spikeGuard else { return .pass }
        let decision = spikeGuard.judge(global)
        self.spikeGuard = spikeGuard
        switch decision {
        case .pass:
            break
        case .skip:
            log { try $0.scalar("gradalert/guard_skip", 1, step: step, wallTime: wallTime) }
        case .clip(let norm):
            scaleWatchedGradients(by: Float(norm / global))
            log { try $0.scalar("gradalert/guard_clip_norm", norm, step: step, wallTime: wallTime) }
        }
        return decision
    }
}
