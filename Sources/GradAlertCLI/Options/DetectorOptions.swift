import ArgumentParser
import Foundation
import GradAlertAnalysis
import GradientDetection

/// Which tags are gradient norms and which are losses (scan, watch, export).
package struct TagOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("grad-tags"), help: ArgumentHelp(
        "Regular expression (case-insensitive) for gradient-norm scalars and gradient histograms.",
        valueName: "regex"))
    package var gradTags: String = TagClassifier.defaultGradientPattern

    @Option(name: .customLong("loss-tags"), help: ArgumentHelp("Regular expression (case-insensitive) for loss scalars.", valueName: "regex"))
    package var lossTags: String = TagClassifier.defaultLossPattern

    package init() {}

    package mutating func validate() throws { _ = try classifier() }

    package func classifier() throws -> TagClassifier {
        do {
            return try TagClassifier(gradientPattern: gradTags, lossPattern: lossTags)
        } catch {
            throw ValidationError("not a valid regular expression: --grad-tags '\(gradTags)' or --loss-tags '\(lossTags)'")
        }
    }
}

/// The detector's knobs and the tag patterns, shared by scan and watch.
package struct DetectorOptions: ParsableArguments, Sendable {
    @OptionGroup package var tags: TagOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("A spike is at least this many times the median of recent values.", valueName: "x"))
    package var spikeRatio: Double = 10

    @Option(parsing: .unconditional, help: ArgumentHelp("…and this many robust standard deviations above it, in log space.", valueName: "z"))
    package var spikeZ: Double = 6

    @Option(parsing: .unconditional, help: ArgumentHelp("Recent values that make the spike baseline.", valueName: "n"))
    package var spikeWindow: Int = 50

    @Option(parsing: .unconditional, help: ArgumentHelp("A gradient norm at or above this is absurd at any step, even the first (0 turns it off).", valueName: "norm"))
    package var absoluteBound: Double = 1e6

    @Option(parsing: .unconditional, help: ArgumentHelp("In a series' first values, a jump of --spike-ratio counts when a loss jumps this many times at the same step (0 turns it off).", valueName: "x"))
    package var earlyLossJump: Double = 2

    @Option(parsing: .unconditional, help: ArgumentHelp("Jumps of a global norm over --spike-ratio x its usual level, within --spike-window values, that make repeated cliffs.", valueName: "n"))
    package var cliffsCount: Int = 2

    @Option(parsing: .unconditional, help: ArgumentHelp("Values fitted for sustained growth.", valueName: "n"))
    package var growthWindow: Int = 20

    @Option(parsing: .unconditional, help: ArgumentHelp("Growth alerts when the fitted line rises by this factor across the window.", valueName: "x"))
    package var growthFactor: Double = 4

    @Option(parsing: .unconditional, help: ArgumentHelp("A norm under this for --vanishing-window values is vanishing.", valueName: "norm"))
    package var vanishingFloor: Double = 1e-8

    @Option(parsing: .unconditional, help: ArgumentHelp("Values under the floor before vanishing alerts.", valueName: "n"))
    package var vanishingWindow: Int = 50

    @Option(parsing: .unconditional, help: ArgumentHelp("A norm this many decades under its usual level counts as collapsed (the rule also needs a loss series, and the spike rule for the usual level).", valueName: "decades"))
    package var collapseDecades: Double = 3

    @Option(parsing: .unconditional, help: ArgumentHelp("Warn when a gradient norm reaches this.", valueName: "norm"))
    package var warnAbove: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Critical alert when a gradient norm reaches this.", valueName: "norm"))
    package var criticalAbove: Double?

    @Option(name: .customLong("disable"), help: ArgumentHelp("Turn a rule off: spike, cliffs, growth, vanishing or collapse (repeatable).", valueName: "rule"))
    package var disabledRules: [String] = []

    @Flag(help: "Do not watch loss series.")
    package var ignoreLoss: Bool = false

    package init() {}

    package mutating func validate() throws {
        // 0 turns these off; the library's nil.
        for (name, value) in [("--absolute-bound", absoluteBound), ("--early-loss-jump", earlyLossJump)] where !(value >= 0) {
            throw ValidationError("\(name) must be 0 (off) or above (it is \(value))")
        }
        for rule in disabledRules where !["spike", "cliffs", "growth", "vanishing", "collapse"].contains(rule) {
            throw ValidationError("--disable takes spike, cliffs, growth, vanishing or collapse, not '\(rule)'")
        }
        _ = try checkedConfiguration()
        _ = try classifier()
    }

    /// The configuration, checked by the library (`DetectorConfiguration.validate()`), its errors
    /// given in terms of the options that set each value.
    package func checkedConfiguration() throws -> DetectorConfiguration {
        let configuration = configuration()
        do throws(DetectorConfigurationError) {
            try configuration.validate()
        } catch {
            var message = error.description
            if let option = Self.options[error.setting] {
                message = message.replacingOccurrences(of: error.setting, with: option).replacingOccurrences(of: "nil (off)", with: "0 (off)")
            }
            throw ValidationError(message)
        }
        return configuration
    }

    /// The option that sets each configuration value the library checks.
    private static let options = [
        "spike.window": "--spike-window", "spike.minRatio": "--spike-ratio", "spike.zScore": "--spike-z",
        "spike.absoluteBound": "--absolute-bound", "spike.earlyLossJump": "--early-loss-jump", "cliffs.count": "--cliffs-count", "growth.window": "--growth-window",
        "growth.minFactor": "--growth-factor", "vanishing.floor": "--vanishing-floor",
        "vanishing.window": "--vanishing-window", "collapse.decades": "--collapse-decades",
        "thresholds[0]": "--warn-above/--critical-above", "thresholds[0].warning": "--warn-above",
        "thresholds[0].critical": "--critical-above",
    ]

    package func classifier() throws -> TagClassifier { try tags.classifier() }

    package func configuration() -> DetectorConfiguration {
        var configuration = DetectorConfiguration()
        configuration.spike.minRatio = spikeRatio
        configuration.spike.zScore = spikeZ
        configuration.spike.window = spikeWindow
        configuration.spike.absoluteBound = absoluteBound > 0 ? absoluteBound : nil
        configuration.growth.window = growthWindow
        configuration.growth.minFactor = growthFactor
        configuration.vanishing.floor = vanishingFloor
        configuration.vanishing.window = vanishingWindow
        configuration.spike.enabled = !disabledRules.contains("spike")
        configuration.spike.earlyLossJump = earlyLossJump > 0 ? earlyLossJump : nil
        configuration.cliffs.count = cliffsCount
        configuration.cliffs.enabled = !disabledRules.contains("cliffs")
        configuration.growth.enabled = !disabledRules.contains("growth")
        configuration.vanishing.enabled = !disabledRules.contains("vanishing")
        configuration.collapse.decades = collapseDecades
        configuration.collapse.enabled = !disabledRules.contains("collapse")
        configuration.watchLoss = !ignoreLoss
        if warnAbove != nil || criticalAbove != nil {
            configuration.thresholds = [ThresholdRule(warning: warnAbove, critical: criticalAbove)]
        }
        return configuration
    }
}
