import GradientDetection
import Foundation

/// Decides what a tag measures, from its name: a gradient norm (global or per layer), a layer's
/// largest |gradient|, a gradient histogram, a loss, or something to ignore (learning rate,
/// accuracy...).
public struct TagClassifier: Sendable {
    /// Default: anything mentioning grad, gradient, grad_norm or gnorm (case-insensitive).
    public static let defaultGradientPattern = "grad|gnorm"
    public static let defaultLossPattern = "loss"

    public let gradientPattern: String
    public let lossPattern: String
    private let gradient: NSRegularExpressionBox
    private let loss: NSRegularExpressionBox

    public enum ScalarKind: Sendable, Equatable {
        case gradient(SeriesRole)
        case loss
        case ignored
    }

    /// Throws when a pattern is not a valid regular expression.
    public init(gradientPattern: String = defaultGradientPattern, lossPattern: String = defaultLossPattern) throws {
        self.gradientPattern = gradientPattern
        self.lossPattern = lossPattern
        gradient = try NSRegularExpressionBox(gradientPattern)
        loss = try NSRegularExpressionBox(lossPattern)
    }

    public func classifyScalar(_ tag: String) -> ScalarKind {
        let lower = tag.lowercased()
        // gradalert's own bookkeeping (the spike guard's actions) and GradientMonitor's update
        // ratios: not measures of gradients, whatever the parameter is called.
        if lower.hasPrefix("gradalert/") || lower.hasPrefix("update_ratio/") { return .ignored }
        // Counts of NaN/Inf elements and loss-scaler factors (AMP) are not norms.
        if lower.contains("nonfinite") || lower.contains("nan_count") || lower.contains("inf_count")
            || lower.contains("loss_scale") || lower.contains("grad_scale") || lower.contains("scaler")
            || lower.contains("scale_factor")
        {
            return .ignored
        }
        if gradient.matches(tag) {
            // A norm after clipping is capped by construction: logged beside the real norm, it
            // says clipping is active, and no rule watches it. Other clipping numbers (the bound,
            // the coefficient) are not norms; a norm "before clipping" is the real one. Only the
            // metric's own path components count (`grad_norm_clipped`, not a layer `clip_model`).
            let metricParts = lower.split(separator: "/").filter { $0.contains("grad") || $0.contains("norm") }
            let words = Set(metricParts.flatMap { $0.split(whereSeparator: { !$0.isLetter && !$0.isNumber }) }.map(String.init))
            if words.contains("clipped") || (words.contains("clip") && !words.isDisjoint(with: ["post", "after"])) {
                return .gradient(.clippedGradientNorm)
            }
            if !words.isDisjoint(with: ["clip", "clipping", "clipnorm"]), words.isDisjoint(with: ["pre", "before", "unclipped"]) {
                return .ignored
            }
            // max |g| series say so in the metric part of the tag (grad_max/fc1, gradients_max/...),
            // not in a layer's name (grad_norm/max_pool, grad_norm/softmax).
            let metric = lower.split(separator: "/").first.map(String.init) ?? lower
            let metricWords = Set(metric.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init))
            if !metricWords.isDisjoint(with: ["max", "maxabs", "absmax", "amax", "linf"]) { return .gradient(.layerGradientMax) }
            return .gradient(Self.isGlobal(lower) ? .globalGradientNorm : .layerGradientNorm)
        }
        if loss.matches(tag) { return .loss }
        return .ignored
    }

    /// Gradient histograms: a tag that matches the gradient pattern, except GradientMonitor's
    /// weight histograms (`weights/<parameter>`), whatever the parameter is called.
    public func isGradientHistogram(_ tag: String) -> Bool {
        !tag.lowercased().hasPrefix("weights/") && gradient.matches(tag)
    }

    /// A norm of all gradients: names saying global/total, or names that are nothing but words
    /// for "gradient norm" (`grad_norm`, `train/gradient_norm`, `gnorm`).
    static func isGlobal(_ lowerTag: String) -> Bool {
        if lowerTag.contains("global") || lowerTag.contains("total") || lowerTag.contains("overall") { return true }
        let generic: Set<String> = ["train", "training", "grad", "grads", "gradient", "gradients", "norm", "norms", "gnorm", "l2", "step", "batch", "epoch", "model", "all",
                                    // the real norm beside a clipped one: before clipping
                                    "pre", "before", "clip", "clipping", "unclipped", "raw"]
        let words = lowerTag.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        return !words.isEmpty && words.allSatisfy { generic.contains($0) }
    }
}

/// NSRegularExpression is immutable once made; this box says so to the compiler.
struct NSRegularExpressionBox: @unchecked Sendable {
    let expression: NSRegularExpression

    init(_ pattern: String) throws {
        expression = try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
    }

    func matches(_ text: String) -> Bool {
        expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
