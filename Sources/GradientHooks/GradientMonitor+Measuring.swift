import TensorBoardEvents

/// Measuring: one pass over every watched gradient; the update ratio; weight histograms.
extension GradientMonitor {
    /// One pass over every watched gradient: reflected parameters, sources, then raw buffers. Also
    /// keeps the parameters' and sources' L2 norms for `clipGradNorm` at the same step.
    func measureAll(_ gradients: [NamedGradient], histogram: Bool) throws -> [(String, GradientStatistics)] {
        var measured: [(String, GradientStatistics)] = []
        for (name, parameter) in parameters {
            guard parameter.gradient.count == parameter.values.count else {
                throw GradientMonitorError.gradientLengthMismatch(parameter: name, values: parameter.values.count, gradient: parameter.gradient.count)
            }
            let statistics = parameter.gradient.withUnsafeBufferPointer {
                GradientStatisticsKernel.compute($0, histogram: histogram, threads: options.threads)
            }
            measured.append((name, statistics))
        }
        for source in sources {
            for name in source.parameterNames where options.filter.matches(name) {
                measured.append((name, source.withGradient(of: name) { measure($0, histogram: histogram) }))
            }
        }
        lastNorms = measured.map(\.1.l2Norm)
        var names = gradients.isEmpty ? [] : Set(measured.map(\.0))  // only when there are extra gradients to check
        for gradient in gradients where options.filter.matches(gradient.name) {
            // One name, one series: a second gradient under a name in use would mix into it (and
            // count twice in the global norm).
            guard gradient.name != Self.reservedName, names.insert(gradient.name).inserted else {
                warnOnce("gradient-name-\(gradient.name)", "gradalert: record(step:loss:gradients:) got a gradient named \(gradient.name), a name already in use (a watched parameter, another gradient of the step, or global, the global norm's); it is not measured: give it a distinct name")
                continue
            }
            measured.append((gradient.name, measure(gradient.buffer, histogram: histogram)))
        }
        return measured
    }

    private func measure(_ buffer: GradientBuffer, histogram: Bool) -> GradientStatistics {
        switch buffer {
        case .float(let values): GradientStatisticsKernel.compute(values, histogram: histogram, threads: options.threads)
        case .double(let values): GradientStatisticsKernel.compute(values, histogram: histogram, threads: options.threads)
        case .float16(let values): GradientStatisticsKernel.compute(float16Bits: values, histogram: histogram, threads: options.threads)
        }
    }

    /// The watched parameters' values: reflected parameters, and sources that share theirs.
    private func watchedValues() -> [(String, [Float])] {
        var current: [(String, [Float])] = parameters.map { ($0.name, $0.parameter.values) }
        for source in sources {
            for name in source.parameterNames where options.filter.matches(name) {
                if let values = source.withValues(of: name, Self.floats) { current.append((name, values)) }
            }
        }
        return current
    }

    /// ‖Δw‖ / ‖w‖ per parameter since the last step.
    func writeUpdateRatios(step: Int, wallTime: Double) {
        for (name, values) in watchedValues() {
            if let previous = previousValues[name], previous.count == values.count {
                var change = 0.0
                var size = 0.0
                for index in values.indices {
                    let delta = Double(values[index]) - Double(previous[index])
                    change += delta * delta
                    size += Double(values[index]) * Double(values[index])
                }
                let ratio = size > 0 ? (change / size).squareRoot() : 0
                log { try $0.scalar("update_ratio/\(name)", ratio, step: step, wallTime: wallTime) }
            }
            previousValues[name] = values
        }
    }

    /// `weights/<name>`: a histogram of each watched parameter's values.
    func writeWeightHistograms(step: Int, wallTime: Double) {
        for (name, values) in watchedValues() {
            let statistics = values.withUnsafeBufferPointer { GradientStatisticsKernel.compute($0, histogram: true, threads: options.threads) }
            if let summary = statistics.histogram() {
                log { try $0.histogram("weights/\(name)", summary: summary, step: step, wallTime: wallTime) }
            }
        }
    }

    /// A buffer's values as floats (a copy: the update ratio compares with the next step's).
    private static func floats(_ buffer: GradientBuffer) -> [Float] {
        switch buffer {
        case .float(let values): Array(values)
        case .double(let values): values.map { Float($0) }
        case .float16(let values): values.map(HalfFloat.float(fromBits:))
        }
    }
}
