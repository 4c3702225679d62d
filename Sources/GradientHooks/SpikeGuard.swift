#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps one bad step from wrecking the weights: watches the global gradient norm and, when it
/// spikes, either skips the update or clips it to the running level. Any training loop can use it
/// (`GradientMonitor.Options.spikeGuard` does, in one line):
///
/// ```swift
/// var spikeGuard = SpikeGuard(.adaptiveClip())
/// switch spikeGuard.judge(globalNorm) {
/// case .pass: optimiser.step()
/// case .skip: break                                   // leave the weights alone this step
/// case .clip(let norm): scaleGradients(by: norm / globalNorm); optimiser.step()
/// }
/// ```
///
/// **When it acts** — OLMo-core's `SkipStepOptimizer` rule, made robust: a norm more than `sigmas`
/// standard deviations over the level of the last `window` norms, the current one excluded. The
/// level and the spread are the median and the MAD (× 1.4826, at least 0.05 decades) of log10 of
/// the norms: gradient norms vary by factors, and with a mean and a standard deviation in linear
/// units a few large healthy values set the bar. A NaN or infinite norm always counts. Nothing
/// happens before `minHistory` norms (at most `window` of them: a larger `minHistory` is taken as
/// `window`), and a spike never joins the window it is judged by.
///
/// **What it does** — `.skipStep`: skip the update. `.adaptiveClip`: ZClip's answer — clip the
/// gradients to the running level, an exponential moving mean plus `zThreshold` standard deviations
/// of the accepted norms (smoothing `alpha`), so the step is taken at its usual size.
public struct SpikeGuard: Sendable {
    public enum Policy: Sendable, Equatable {
        case skipStep(window: Int = 100, sigmas: Double = 6, minHistory: Int = 20)
        case adaptiveClip(window: Int = 100, sigmas: Double = 6, minHistory: Int = 20, alpha: Double = 0.97, zThreshold: Double = 2.5)
    }

    /// What to do with this step's update.
    public enum Decision: Sendable, Equatable {
        case pass
        /// Skip it; `limit` is the norm it had to stay under (NaN for a non-finite norm).
        case skip(limit: Double)
        /// Scale the gradients so their global norm is `norm`.
        case clip(norm: Double)
    }

    public let policy: Policy
    /// Updates skipped and clipped so far.
    public private(set) var skipped = 0
    public private(set) var clipped = 0

    /// log10 of the last `window` accepted norms (a ring), and a scratch copy to sort.
    private var history: [Double] = []
    private var head = 0
    private var sorted: [Double] = []
    /// The clip target's moving mean and variance of the accepted norms (linear units).
    private var mean = 0.0
    private var variance = 0.0
    private var accepted = 0

    public init(_ policy: Policy) {
        self.policy = policy
    }

    /// Judges one step's global gradient norm. A NaN or infinite norm is always skipped (there is
    /// no finite size to clip it to); a norm of 0 always passes.
    public mutating func judge(_ norm: Double) -> Decision {
        guard norm.isFinite else {
            skipped += 1
            return .skip(limit: .nan)
        }
        guard norm > 0 else { return .pass }
        let (window, sigmas, minHistory) = switch policy {
        case .skipStep(let window, let sigmas, let minHistory): (window, sigmas, minHistory)
        case .adaptiveClip(let window, let sigmas, let minHistory, _, _): (window, sigmas, minHistory)
        }
        let x = log10(norm)
        if history.count >= max(2, min(minHistory, window)), let limit = spikeLine(sigmas: sigmas), x > limit {
            switch policy {
            case .skipStep:
                skipped += 1
                return .skip(limit: pow(10, limit))
            case .adaptiveClip(_, _, _, let alpha, let zThreshold):
                let target = mean + zThreshold * variance.squareRoot()
                // The running level can sit above a norm the robust line calls a spike (a level
                // pulled up by earlier large norms): there is nothing to clip then.
                guard target < norm else { break }
                clipped += 1
                accept(target, log: log10(target), window: window, alpha: alpha)
                return .clip(norm: target)
            }
        }
        if case .adaptiveClip(_, _, _, let alpha, _) = policy {
            accept(norm, log: x, window: window, alpha: alpha)
        } else {
            accept(norm, log: x, window: window, alpha: 0)
        }
        return .pass
    }

    /// log10 of the norm a spike passes: the window's median plus `sigmas` robust deviations.
    private mutating func spikeLine(sigmas: Double) -> Double? {
        sorted.removeAll(keepingCapacity: true)
        sorted.append(contentsOf: history)
        sorted.sort()
        let median = Self.median(sorted)
        for index in sorted.indices { sorted[index] = Swift.abs(sorted[index] - median) }
        sorted.sort()
        let deviation = Swift.max(1.4826 * Self.median(sorted), 0.05)
        return median + sigmas * deviation
    }

    private static func median(_ sorted: [Double]) -> Double {
        let n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }

    /// Lets a norm (the clipped one, after a clip) join the window and the moving statistics.
    private mutating func accept(_ norm: Double, log x: Double, window: Int, alpha: Double) {
        let window = Swift.max(1, window)
        if history.count < window {
            history.append(x)
        } else {
            history[head] = x
            head = (head + 1) % window
        }
        accepted += 1
        if accepted == 1 {
            mean = norm
            variance = 0
        } else {
            let delta = norm - mean
            mean += (1 - alpha) * delta
            variance = alpha * (variance + (1 - alpha) * delta * delta)
        }
    }
}
