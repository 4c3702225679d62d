#if canImport(FoundationEssentials)
import FoundationEssentials  // LocalizedError only: error.localizedDescription says what happened
#else
import Foundation
#endif

/// Why a `DetectorConfiguration` cannot be used: a setting outside the range its rule needs. The
/// CLI's options are checked with the same call, so `--spike-window 3` and
/// `configuration.spike.window = 3` give the same message.
public struct DetectorConfigurationError: LocalizedError, Sendable, Equatable, CustomStringConvertible {
    /// The setting, as `rule.field` (`spike.window`).
    public var setting: String
    /// What it must be.
    public var requirement: String
    /// The value given.
    public var value: String

    public init(setting: String, requirement: String, value: String) {
        self.setting = setting
        self.requirement = requirement
        self.value = value
    }

    public var description: String { "\(setting) must be \(requirement) (it is \(value))" }
    public var errorDescription: String? { description }
}

extension DetectorConfiguration {
    /// The largest window (values a rule keeps per series) a configuration may ask for: far more
    /// than any rule needs, and small enough that one series' window stays under a megabyte
    /// (a rule's window is allocated when its series first appears).
    public static let maximumWindow = 100_000

    /// Checks every setting a rule depends on; throws the first one out of range.
    public func validate() throws(DetectorConfigurationError) {
        func require(_ condition: Bool, _ setting: String, _ requirement: String, _ value: some CustomStringConvertible) throws(DetectorConfigurationError) {
            if !condition { throw DetectorConfigurationError(setting: setting, requirement: requirement, value: value.description) }
        }
        try require((10...Self.maximumWindow).contains(spike.window), "spike.window", "between 10 (the robust test needs 10 earlier values) and \(Self.maximumWindow)", spike.window)
        try require(spike.minHistory >= 1 && spike.minHistory <= spike.window, "spike.minHistory", "between 1 and spike.window", spike.minHistory)
        try require(spike.minRatio > 1 && spike.minRatio.isFinite, "spike.minRatio", "a finite number above 1", spike.minRatio)
        try require(spike.zScore > 0 && spike.zScore.isFinite, "spike.zScore", "a finite number above 0", spike.zScore)
        try require(spike.earlyMinRatio > 1 && spike.earlyMinRatio.isFinite, "spike.earlyMinRatio", "a finite number above 1", spike.earlyMinRatio)
        try require(spike.absoluteBound.map { $0 > 0 && $0.isFinite } ?? true, "spike.absoluteBound", "a finite number above 0, or nil (off)", spike.absoluteBound.map { "\($0)" } ?? "nil")
        try require(spike.madFloor > 0 && spike.madFloor.isFinite, "spike.madFloor", "a finite number above 0", spike.madFloor)
        try require(spike.closeRatio >= 1 && spike.closeRatio.isFinite, "spike.closeRatio", "a finite number of at least 1", spike.closeRatio)
        try require(spike.earlyLossJump.map { $0 > 1 && $0.isFinite } ?? true, "spike.earlyLossJump", "a finite number above 1, or nil (off)", spike.earlyLossJump.map { "\($0)" } ?? "nil")
        try require((1...Self.maximumWindow).contains(cliffs.count), "cliffs.count", "between 1 and \(Self.maximumWindow)", cliffs.count)
        try require((1...Self.maximumWindow).contains(cliffs.startValues), "cliffs.startValues", "between 1 and \(Self.maximumWindow)", cliffs.startValues)
        try require((3...Self.maximumWindow).contains(growth.window), "growth.window", "between 3 and \(Self.maximumWindow)", growth.window)
        try require(growth.minFactor > 1 && growth.minFactor.isFinite, "growth.minFactor", "a finite number above 1", growth.minFactor)
        try require((0...1).contains(growth.minIncreasingFraction), "growth.minIncreasingFraction", "between 0 and 1", growth.minIncreasingFraction)
        try require((0...1).contains(growth.minFit), "growth.minFit", "between 0 and 1", growth.minFit)
        try require(vanishing.floor > 0 && vanishing.floor.isFinite, "vanishing.floor", "a finite number above 0", vanishing.floor)
        try require((1...Self.maximumWindow).contains(vanishing.window), "vanishing.window", "between 1 and \(Self.maximumWindow)", vanishing.window)
        try require(collapse.decades > 0 && collapse.decades.isFinite, "collapse.decades", "a finite number above 0", collapse.decades)
        try require((1...Self.maximumWindow).contains(collapse.window), "collapse.window", "between 1 and \(Self.maximumWindow)", collapse.window)
        try require(collapse.fraction > 0 && collapse.fraction <= 1, "collapse.fraction", "above 0 and at most 1", collapse.fraction)
        try require(recoveryPoints >= 1, "recoveryPoints", "at least 1", recoveryPoints)
        for (index, rule) in thresholds.enumerated() {
            let name = "thresholds[\(index)]"
            try require(rule.warning != nil || rule.critical != nil, name, "given a warning or a critical bound", "neither")
            try require(rule.warning?.isFinite ?? true, name + ".warning", "a finite number", rule.warning.map { "\($0)" } ?? "nil")
            try require(rule.critical?.isFinite ?? true, name + ".critical", "a finite number", rule.critical.map { "\($0)" } ?? "nil")
            if let warning = rule.warning, let critical = rule.critical {
                try require(warning <= critical, name + ".warning", "at most the critical bound \(critical)", warning)
            }
        }
    }
}
