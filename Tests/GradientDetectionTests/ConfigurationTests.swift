import Foundation
import Testing

import GradientDetection

/// `DetectorConfiguration.validate()`: the ranges every rule needs, one typed error naming the
/// setting, what it must be and what it was.
@Suite struct ConfigurationTests {
    func failure(_ change: (inout DetectorConfiguration) -> Void) -> DetectorConfigurationError? {
        var configuration = DetectorConfiguration()
        change(&configuration)
        do throws(DetectorConfigurationError) {
            try configuration.validate()
            return nil
        } catch {
            return error
        }
    }

    @Test func theDefaultsAreValid() {
        #expect(failure { _ in } == nil)
    }

    @Test func outOfRangeSettingsAreNamed() {
        #expect(failure { $0.spike.window = 3 }?.setting == "spike.window")
        #expect(failure { $0.spike.window = 3 }?.value == "3")
        // A window so large that allocating it would kill the process is refused up front.
        #expect(failure { $0.spike.window = 100_000_000_000 }?.setting == "spike.window")
        #expect(failure { $0.growth.window = 1_000_000_000 }?.setting == "growth.window")
        #expect(failure { $0.vanishing.window = DetectorConfiguration.maximumWindow + 1 }?.setting == "vanishing.window")
        #expect(failure { $0.growth.window = DetectorConfiguration.maximumWindow } == nil)
        // Infinite or NaN numbers would turn a rule off without saying so.
        #expect(failure { $0.spike.minRatio = .infinity }?.setting == "spike.minRatio")
        #expect(failure { $0.spike.minRatio = .nan }?.setting == "spike.minRatio")
        #expect(failure { $0.spike.absoluteBound = -5 }?.setting == "spike.absoluteBound")
        #expect(failure { $0.spike.absoluteBound = nil } == nil)
        #expect(failure { $0.thresholds = [ThresholdRule(warning: 1, critical: .nan)] }?.setting == "thresholds[0].critical")
        #expect(failure { $0.thresholds = [ThresholdRule(warning: .infinity, critical: nil)] }?.setting == "thresholds[0].warning")
        #expect(failure { $0.thresholds = [ThresholdRule(warning: 1, critical: 3)] } == nil)
    }

    @Test func theMessageSaysWhatToDo() {
        let error = failure { $0.growth.minFactor = 0.5 }
        #expect(error?.description == "growth.minFactor must be a finite number above 1 (it is 0.5)")
        #expect(error?.localizedDescription == error?.description)
    }
}
