#if canImport(FoundationEssentials)
import FoundationEssentials  // LocalizedError only
#else
import Foundation
#endif

/// What `GradientMonitor` refuses to do, and why.
public enum GradientMonitorError: LocalizedError, Sendable, Equatable, CustomStringConvertible {
    /// A parameter's gradient does not have one element per value: measuring, logging and clipping
    /// it would be wrong.
    case gradientLengthMismatch(parameter: String, values: Int, gradient: Int)

    public var description: String {
        switch self {
        case .gradientLengthMismatch(let parameter, let values, let gradient):
            "the gradient of \(parameter) has \(gradient) elements but the parameter has \(values) values: set it with the parameter's shape (or call zeroGradient()) before record(step:)"
        }
    }

    public var errorDescription: String? { description }
}
