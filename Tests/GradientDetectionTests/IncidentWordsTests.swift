import Testing

import GradientDetection

/// What an incident says of itself: the ratio it quotes is over a measured baseline, never over a
/// bound the user chose, and the headline names the most serious bound passed.
@Suite struct IncidentWordsTests {
    func incidents(_ values: [Double], configuration: DetectorConfiguration = DetectorConfiguration()) -> [Incident] {
        var assembler = StepAssembler(configuration: configuration)
        let global = assembler.series("grad_norm/global", kind: .scalar(.globalGradientNorm))
        for (step, value) in values.enumerated() {
            assembler.add(global, value, step: Int64(step), wallTime: nil)
            _ = assembler.completeStep()
        }
        return assembler.incidents
    }

    @Test func aRatioToTheAbsoluteBoundIsNotQuotedAsOverTheBaseline() throws {
        // From the first step, far over the absolute bound (1e6): no baseline exists yet.
        let incident = try #require(incidents([1.2e12, 1.1e12, 1.3e12]).first)
        #expect(incident.kinds.contains(.spike))
        #expect(incident.peakRatio == nil)
        #expect(!incident.detail.contains("the baseline"), "\(incident.detail)")
        #expect(incident.headline.contains("absurd scale"), "\(incident.headline)")
    }

    @Test func aSpikeOverItsBaselineIsQuoted() throws {
        let values = (0..<60).map { 1 + 0.05 * Double($0 % 5) } + [500]
        let incident = try #require(incidents(values).first)
        let ratio = try #require(incident.peakRatio)
        #expect(ratio > 300 && ratio < 600, "\(ratio)")
        #expect(incident.detail.contains("x the baseline"), "\(incident.detail)")
    }

    @Test func anEscalatedThresholdIncidentNamesTheCriticalBound() throws {
        var configuration = DetectorConfiguration()
        configuration.thresholds = [ThresholdRule(warning: 1, critical: 3)]
        // Over the warning bound, then over the critical one, without coming back down.
        let values = [0.5, 0.5, 1.5, 1.6, 1.8, 2.2, 3.5, 3.6]
        let incident = try #require(incidents(values, configuration: configuration).first)
        #expect(incident.severity == .critical)
        #expect(incident.headline.hasPrefix("the gradient norm passed the critical bound 3 at step 6"), "\(incident.headline)")
        #expect(incident.peakRatio == nil, "a ratio to a threshold is not over a baseline")
    }
}
