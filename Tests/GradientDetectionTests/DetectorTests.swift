import Foundation
import Testing

import GradAlertTestSupport
@testable import GradientDetection

func run(_ values: [Double], role: SeriesRole = .globalGradientNorm, name: String = "grad_norm/global",
         configuration: DetectorConfiguration = DetectorConfiguration(), firstStep: Int64 = 0) -> [Alert] {
    var detector = GradientDetector(configuration: configuration)
    var alerts: [Alert] = []
    for (index, value) in values.enumerated() {
        alerts += detector.observe(step: firstStep + Int64(index), series: name, role: role, value: value)
    }
    return alerts
}

@Suite struct SpikeTests {
    /// The value being judged is not part of its own baseline: on a flat series, one jump of 100x
    /// is compared with the flat level and fires.
    @Test func currentValueIsNotInItsBaseline() {
        let alerts = run(Array(repeating: 1.0, count: 30) + [100.0])
        #expect(alerts.count == 1)
        #expect(alerts.first?.kind == .spike)
        #expect(alerts.first?.severity == .critical)
        #expect(alerts.first?.step == 30)
        #expect(alerts.first?.baseline == 1.0)
        #expect(alerts.first?.ratio == 100)
    }

    @Test func noisyHealthySeriesGivesNoAlert() {
        var noise = TestRandom(seed: 1)
        // Log-normal noise with a spread of ×1.6 (σ = 0.2 decades) and a slow drift down, as real
        // gradient norms look while the loss falls.
        let values = (0..<3000).map { step in pow(10, -0.0003 * Double(step) + 0.2 * noise.normal()) }
        #expect(run(values).isEmpty)
    }

    @Test func aJumpSmallerThanTheMinimumRatioIsNotASpike() {
        var noise = TestRandom(seed: 2)
        let values = (0..<100).map { _ in 1 + 0.001 * noise.normal() } + [8.0]
        // z is enormous (the series is almost flat) but 8x is under the 10x minimum.
        #expect(run(values).isEmpty)
    }

    @Test func absurdScaleAtTheFirstStep() {
        let alerts = run([1e16, 2e16, 3e16])
        #expect(alerts.count == 1)
        #expect(alerts.first?.kind == .spike && alerts.first?.step == 0)
        #expect(alerts.first?.baseline == nil)
        #expect(alerts.first?.remedies.first == .betterInitialisation)
    }

    @Test func earlyStepsNeedALargerJump() {
        #expect(run([1, 1.2, 0.9, 50]).isEmpty)  // 50x with three points of history: not yet
        let alerts = run([1, 1.2, 0.9, 500])
        #expect(alerts.map(\.kind) == [.spike])
        #expect(alerts.first?.step == 3)
    }

    @Test func theLossIsNotJudgedOnAnAbsoluteScale() {
        #expect(run([1e7, 1.1e7, 0.9e7], role: .loss, name: "loss").isEmpty)
        #expect(run(Array(repeating: 2.0, count: 20) + [500], role: .loss, name: "loss").map(\.kind) == [.spike])
    }

    /// An episode alerts once, closes when values are back to normal for a while, and a later
    /// episode alerts again.
    @Test func episodesAndHysteresis() {
        let flat = Array(repeating: 1.0, count: 20)
        let values = flat + [200, 300, 2.5, 250, 1, 1, 1, 1, 1, 1] + flat + [1000]
        let alerts = run(values)
        #expect(alerts.map(\.step) == [20, 50])
    }
}

@Suite struct OtherRuleTests {
    @Test func nonFiniteValuesAlertOncePerEpisode() {
        let values: [Double] = [1, 1, .nan, .nan, .infinity, 1, 1, 1, 1, 1, 1, -.infinity]
        let alerts = run(values)
        #expect(alerts.map(\.kind) == [.nonfinite, .nonfinite])
        #expect(alerts.map(\.step) == [2, 11])
        #expect(alerts.allSatisfy { $0.severity == .critical })
        #expect(alerts[0].message.contains("NaN"))
        #expect(alerts[1].message.contains("-Inf"))
    }

    /// Steady growth of ×1.1 a step is flagged as growth (a warning) well before it becomes a spike.
    @Test func sustainedGrowthIsTheEarlyWarning() {
        var noise = TestRandom(seed: 3)
        let healthy = (0..<100).map { _ in pow(10, 0.1 * noise.normal()) }
        let growing = (0..<80).map { pow(1.1, Double($0 + 1)) * pow(10, 0.02 * noise.normal()) }
        let alerts = run(healthy + growing)
        let growth = alerts.first { $0.kind == .growth }
        let spike = alerts.first { $0.kind == .spike }
        #expect(alerts.first?.kind == .growth)
        #expect(growth?.severity == .warning)
        #expect(growth?.remedies.first == .lowerLearningRate)
        if let growth, let spike {
            #expect(spike.step - growth.step >= 5, "growth at \(growth.step), spike at \(spike.step)")
        }
        if let growth { #expect(growth.step >= 110 && growth.step < 125, "growth at \(growth.step)") }
    }

    @Test func oneJumpIsNotGrowth() {
        let values = Array(repeating: 1.0, count: 30) + Array(repeating: 100.0, count: 30)
        #expect(!run(values).contains { $0.kind == .growth })
    }

    @Test func thresholdsWarnThenEscalate() {
        var configuration = DetectorConfiguration()
        configuration.spike.enabled = false
        configuration.thresholds = [ThresholdRule(warning: 10, critical: 100)]
        let alerts = run([1, 5, 20, 30, 150, 160], configuration: configuration)
        #expect(alerts.map(\.severity) == [.warning, .critical])
        #expect(alerts.map(\.step) == [2, 4])
        #expect(alerts.first?.ratio == 2)
    }

    @Test func vanishingNorms() {
        var configuration = DetectorConfiguration()
        configuration.vanishing.window = 10
        let alerts = run([1e-3] + Array(repeating: 1e-10, count: 12), configuration: configuration)
        #expect(alerts.map(\.kind) == [.vanishing])
        #expect(alerts.first?.step == 10)
        #expect(alerts.first?.remedies.first == .betterInitialisation)
        // A parameter that never had a gradient is not "vanishing".
        #expect(run(Array(repeating: 0, count: 100), configuration: configuration).isEmpty)
    }
}

/// The collapse rule: a layer whose gradient falls orders of magnitude below its own usual level
/// and stays there while the loss goes nowhere (dead after a bad update).
@Suite struct CollapseTests {
    /// `layer` for 300 steps: around 0.1 with a wiggle until step 150, then `after(step)`. The loss
    /// falls from 1 to 0.6 over the first 150 steps, then follows `loss(step)`.
    func observe(after: (Int) -> Double, loss: (Int) -> Double?, configuration: DetectorConfiguration = DetectorConfiguration())
        -> [Alert]
    {
        var detector = GradientDetector(configuration: configuration)
        var alerts: [Alert] = []
        for step in 0..<300 {
            let layer = step < 150 ? 0.1 * (1 + 0.2 * Double(step % 5)) : after(step)
            var points: [GradientDetector.Point] = [
                .init("grad_norm/layer1", .layerGradientNorm, layer),
                .init("grad_norm/layer2", .layerGradientNorm, 0.2 * (1 + 0.1 * Double(step % 3))),
            ]
            let lossValue = step < 150 ? 1 - 0.4 * Double(step) / 150 : loss(step)
            if let lossValue { points.append(.init("loss", .loss, lossValue)) }
            alerts += detector.observe(step: Int64(step), points: points)
        }
        return alerts
    }

    /// Dead from step 150: exactly zero, with a flicker of 1e-5 every seventh step (over 3 decades
    /// under 0.1), while the loss goes back to 1.
    func dead(_ step: Int) -> Double { step % 7 == 0 ? 1e-5 : 0 }

    @Test func aLayerThatDiesWhileTheLossRegressesCollapses() {
        let alerts = observe(after: dead, loss: { _ in 1.0 })
        #expect(alerts.map(\.kind) == [.collapse])
        #expect(alerts.first?.series == "grad_norm/layer1")
        // 45 of the last 50 values collapsed: the 45th collapsed value is at step 194.
        #expect(alerts.first?.step == 194)
        #expect(alerts.first?.severity == .warning)
        #expect(alerts.first?.remedies.first == .lowerLearningRate)
        #expect(alerts.first.map { $0.baseline! > 0.1 && $0.baseline! < 0.2 } == true)
        #expect(alerts.first?.kind.isExplosion == false)
    }

    /// The same fall while the loss keeps falling is a model that has learned its data: no alert.
    @Test func aConvergingRunDoesNotCollapse() {
        #expect(observe(after: dead, loss: { step in 0.6 * pow(0.97, Double(step - 150)) }).isEmpty)
    }

    /// Without a loss there is nothing to tell dying from converging: the rule stays quiet.
    @Test func noLossNoCollapse() {
        var detector = GradientDetector()
        var alerts: [Alert] = []
        for step in 0..<300 {
            let layer = step < 150 ? 0.1 * (1 + 0.2 * Double(step % 5)) : dead(step)
            alerts += detector.observe(step: Int64(step), points: [.init("grad_norm/layer1", .layerGradientNorm, layer)])
        }
        #expect(alerts.isEmpty)
    }

    /// A drop of two decades is not a collapse at the default three; it is at one.
    @Test func theDepthIsConfigurable() {
        #expect(observe(after: { _ in 1e-3 }, loss: { _ in 1.0 }).isEmpty)
        var configuration = DetectorConfiguration()
        configuration.collapse.decades = 1
        #expect(observe(after: { _ in 1e-3 }, loss: { _ in 1.0 }, configuration: configuration).map(\.kind) == [.collapse])
        configuration.collapse.enabled = false
        #expect(observe(after: dead, loss: { _ in 1.0 }, configuration: configuration).isEmpty)
    }

    /// A dead layer that twitches back for 5 steps in every 55 is one collapse, not one per twitch.
    @Test func shortRevivalsDoNotRealert() {
        let alerts = observe(after: { step in (step - 150) % 55 >= 50 ? 0.1 : self.dead(step) }, loss: { _ in 1.0 })
        #expect(alerts.map(\.step) == [194])
    }

    /// A layer that explodes for longer than the spike window (the baseline restarts at the
    /// exploded level) and then comes back to its old level has not collapsed.
    @Test func comingBackDownFromAnExplosionIsNotACollapse() {
        let alerts = observe(after: { step in step < 230 ? 1e3 * (1 + 0.1 * Double(step % 3)) : 0.1 * (1 + 0.2 * Double(step % 5)) },
                             loss: { _ in 1.0 })
        #expect(alerts.map(\.kind) == [.spike])
        #expect(alerts.first?.step == 150)
    }

    /// A layer that comes back to life closes its episode and can collapse again later.
    @Test func recoveryClosesTheEpisode() {
        let alerts = observe(after: { step in (step >= 200 && step < 230) || step >= 280 ? 0.1 : self.dead(step) }, loss: { _ in 1.0 })
        // Dead 150-199 (alert at 194), alive 200-229 (closed at 225, when 24 of the last 50 have
        // collapsed), dead again from 230: 45 of the last 50 at step 274.
        #expect(alerts.map(\.kind) == [.collapse, .collapse])
        #expect(alerts.map(\.step) == [194, 274])
        var detector = GradientDetector()
        for step in 0..<300 {
            let layer = step < 150 ? 0.1 * (1 + 0.2 * Double(step % 5)) : (step < 260 ? dead(step) : 0.1)
            let lossValue = step < 150 ? 1 - 0.4 * Double(step) / 150 : 1.0
            _ = detector.observe(step: Int64(step), points: [.init("grad_norm/layer1", .layerGradientNorm, layer), .init("loss", .loss, lossValue)])
        }
        #expect(detector.openEpisodes.isEmpty)
    }
}

@Suite struct EpisodeTests {
    /// The origin is the per-layer series that alerted first, even when the global norm and other
    /// layers follow; the alerts name it.
    @Test func originIsTheFirstLayerToAlert() {
        var detector = GradientDetector()
        var alerts: [Alert] = []
        for step in 0..<40 {
            var early = 1.0, late = 1.0, global = 1.5
            if step >= 30 { early = 1e4; global = 1e4 }
            if step >= 32 { late = 1e5; global = 1e5 }
            alerts += detector.observe(step: Int64(step), points: [
                .init("grad_norm/layer2", .layerGradientNorm, late),
                .init("grad_norm/layer1", .layerGradientNorm, early),
                .init("grad_norm/global", .globalGradientNorm, global),
            ])
        }
        #expect(detector.incidents.count == 1)
        #expect(detector.incidents.first?.origin == "grad_norm/layer1")
        #expect(alerts.map(\.series) == ["grad_norm/layer1", "grad_norm/global", "grad_norm/layer2"])
        #expect(alerts.allSatisfy { $0.origin == "grad_norm/layer1" })
    }

    @Test func tiesGoToTheLargestRatio() {
        var detector = GradientDetector()
        for step in 0..<20 {
            let blow = step == 19
            _ = detector.observe(step: Int64(step), points: [
                .init("a", .layerGradientNorm, blow ? 1e3 : 1),
                .init("b", .layerGradientNorm, blow ? 1e5 : 1),
            ])
        }
        #expect(detector.incidents.first?.origin == "b")
    }

    @Test func lossGoingNaNFirstPointsAtTheLoss() {
        var detector = GradientDetector()
        var alerts: [Alert] = []
        for step in 0..<30 {
            let broken = step >= 25
            alerts += detector.observe(step: Int64(step), points: [
                .init("grad_norm/global", .globalGradientNorm, broken ? .nan : 1),
                .init("loss", .loss, broken ? .nan : 2),
            ])
        }
        #expect(alerts.map(\.kind) == [.nonfinite, .nonfinite])
        #expect(alerts.allSatisfy { $0.remedies.first == .smootherLoss })
        #expect(detector.incidents.first?.origin == nil)
    }

    @Test func gradientsGoingNaNFirstPointAtTheStepSize() {
        var detector = GradientDetector()
        var alerts: [Alert] = []
        for step in 0..<30 {
            alerts += detector.observe(step: Int64(step), points: [
                .init("grad_norm/global", .globalGradientNorm, step >= 20 ? .nan : 1),
                .init("loss", .loss, step >= 21 ? .nan : 2),
            ])
        }
        #expect(alerts.first?.series == "grad_norm/global")
        #expect(alerts.first?.remedies.first == .lowerLearningRate)
    }

    /// Steps are whatever a file says, Int64.min and Int64.max included: no arithmetic on them may trap.
    @Test func extremeStepsDoNotTrap() {
        var detector = GradientDetector()
        for step: Int64 in [0, 1, .max, .min, .max - 1, .min + 1, 0] {
            _ = detector.observe(step: step, points: [.init("g", .globalGradientNorm, .nan), .init("loss", .loss, 1e30)])
        }
        #expect(!detector.alerts.isEmpty)
    }

    @Test func episodesCloseAndReopen() {
        var detector = GradientDetector()
        let values: [Double] = Array(repeating: 1, count: 20) + [.nan] + Array(repeating: 1, count: 10) + [.nan]
        for (step, value) in values.enumerated() {
            _ = detector.observe(step: Int64(step), series: "g", role: .globalGradientNorm, value: value)
        }
        #expect(detector.incidents.count == 2)
        #expect(detector.incidents[0].openingStep == 20 && detector.incidents[0].closingStep == 25)
        #expect(detector.incidents[1].openingStep == 31 && detector.incidents[1].closingStep == nil)
    }
}

@Suite struct SlidingWindowTests {
    @Test func medianAndMADMatchANaiveComputation() {
        var noise = TestRandom(seed: 9)
        var window = SlidingWindow(capacity: 17)
        var all: [Double] = []
        for _ in 0..<500 {
            let value = (noise.normal() * 10).rounded() / 10  // ties on purpose
            window.append(value)
            all.append(value)
            let last = Array(all.suffix(17))
            let sorted = last.sorted()
            let n = sorted.count
            let median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
            #expect(window.median == median)
            let deviations = last.map { abs($0 - median) }.sorted()
            let mad = n % 2 == 1 ? deviations[n / 2] : (deviations[n / 2 - 1] + deviations[n / 2]) / 2
            #expect(abs(window.medianAbsoluteDeviation(from: median) - mad) < 1e-12)
            #expect(window.values == last)
        }
    }
}

@Suite struct EarlyAndCliffsTests {
    /// In the first values, a 20x jump is not enough on its own (a fresh net's norms move a lot)...
    @Test func anEarlyJumpAloneIsNotASpike() {
        var detector = GradientDetector()
        var alerts: [Alert] = []
        for (step, norm) in [1.0, 20, 18, 15].enumerated() {
            alerts += detector.observe(step: Int64(step), points: [.init("loss", .loss, 2.3), .init("g", .globalGradientNorm, norm)])
        }
        #expect(alerts.isEmpty)
    }

    /// ...but it is when the loss jumps with it: the first updates broke the model.
    @Test func anEarlyJumpTheLossConfirmsIsASpike() {
        var detector = GradientDetector()
        var alerts: [Alert] = []
        for (step, (norm, loss)) in [(1.0, 2.3), (20, 9.0), (18, 8.0)].enumerated() {
            alerts += detector.observe(step: Int64(step), points: [.init("loss", .loss, loss), .init("g", .globalGradientNorm, norm)])
        }
        #expect(alerts.map(\.kind) == [.spike])
        #expect(alerts.first?.step == 1)
        #expect(alerts.first?.message.contains("the loss jumped with it (3.91x its own, to 9)") == true)
        #expect(alerts.first?.remedies.first == .lowerLearningRate)
        var off = DetectorConfiguration()
        off.spike.earlyLossJump = nil
        var quiet = GradientDetector(configuration: off)
        var none: [Alert] = []
        for (step, (norm, loss)) in [(1.0, 2.3), (20, 9.0), (18, 8.0)].enumerated() {
            none += quiet.observe(step: Int64(step), points: [.init("loss", .loss, loss), .init("g", .globalGradientNorm, norm)])
        }
        #expect(none.isEmpty)
    }

    /// A noisy norm (σ = 0.3 decades: x2 either way is common) whose jumps to about 30x its level
    /// come back again and again: the spike test's MAD is too wide to call any one of them (z under
    /// 6), the cliffs rule calls the second.
    @Test func repeatedCliffsInANoisySeries() {
        var random = TestRandom(seed: 5)
        var values: [Double] = []
        for step in 0..<300 {
            let noise = pow(10, 0.3 * random.normal())
            values.append([60, 61, 90, 91, 120].contains(step) ? 30 * noise.squareRoot() : noise)
        }
        let alerts = run(values)
        let cliffs = alerts.filter { $0.kind == .cliffs }
        #expect(cliffs.count >= 1)
        #expect(cliffs.first.map { $0.step == 90 } == true, "\(alerts.map { "\($0.kind) \($0.step)" })")
        #expect(cliffs.first?.severity == .critical)
        #expect(cliffs.first?.message.contains("the 2nd jump") == true)
    }

    /// The same noise without cliffs, and a series whose level rises 12x once and stays there,
    /// wiggling about its new median (one excursion, not repeated): no cliffs.
    @Test func noiseAndOneLevelShiftAreNotCliffs() {
        var random = TestRandom(seed: 6)
        let noisy: [Double] = (0..<300).map { _ in pow(10, 0.3 * random.normal()) }
        #expect(!run(noisy).contains { $0.kind == .cliffs }, "\(run(noisy).map { "\($0.kind) \($0.step) \($0.message)" })")
        let shifted: [Double] = (0..<300).map { (step: Int) -> Double in
            let wiggle = 0.01 * Double(step % 5)
            return (step < 150 ? 1.0 : 12.0) + wiggle
        }
        #expect(!run(shifted).contains { $0.kind == .cliffs }, "\(run(shifted).map { "\($0.kind) \($0.step) \($0.message)" })")
    }

    /// Only global norms: a layer's cliffs are its own business (dead units flickering back).
    @Test func layersDoNotRaiseCliffs() {
        var random = TestRandom(seed: 5)
        let values: [Double] = (0..<300).map { (step: Int) -> Double in
            [60, 61, 90, 91, 120].contains(step) ? 30.0 : pow(10, 0.3 * random.normal())
        }
        #expect(!run(values, role: .layerGradientNorm, name: "grad_norm/fc").contains { $0.kind == .cliffs })
    }
}

/// What the advice puts first, for the situations the demo's causes produce.
@Suite struct RemedyAdviceTests {
    /// A recurrent net that blows up: clip first, then a bounded or gated activation — whether it
    /// shows at the first step (an absurd scale) or later. A loss that broke first still points at
    /// the loss.
    @Test func recurrentNetsAreToldToClipAndBoundTheActivation() {
        for situation in [
            RemedyAdvisor.Situation(kind: .spike, role: .layerGradientNorm, stepsSinceStart: 0, absurdScale: true, recurrent: true),
            RemedyAdvisor.Situation(kind: .nonfinite, role: .globalGradientNorm, stepsSinceStart: 40, recurrent: true),
        ] {
            #expect(Array(RemedyAdvisor.remedies(for: situation).prefix(2)) == [.clipGradients, .smootherActivations])
        }
        let lossFirst = RemedyAdvisor.Situation(kind: .nonfinite, role: .loss, stepsSinceStart: 40, recurrent: true)
        #expect(RemedyAdvisor.remedies(for: lossFirst).first == .smootherLoss)
        #expect(GradientDetector.namesRecurrentLayer("grad_norm/rnn.recurrent"))
        #expect(GradientDetector.namesRecurrentLayer("grad/encoder/lstm_1/kernel"))
        #expect(GradientDetector.namesRecurrentLayer("grad_norm/simple_rnn_cell/bias"))
        #expect(!GradientDetector.namesRecurrentLayer("grad_norm/layers.0.weight"))
        #expect(!GradientDetector.namesRecurrentLayer("grad_norm/running_mean"))
    }

    /// The loss leaps at the first update with every gradient (weights too large, a net too deep):
    /// the loss's own alert, which leads the incident, advises the initialisation first too.
    @Test func aLossThatLeapsAtTheStartPointsAtTheWeights() {
        let loss = RemedyAdvisor.Situation(kind: .spike, role: .loss, stepsSinceStart: 1)
        #expect(Array(RemedyAdvisor.remedies(for: loss).prefix(2)) == [.betterInitialisation, .normalisation])
        let later = RemedyAdvisor.Situation(kind: .spike, role: .loss, stepsSinceStart: 200)
        #expect(RemedyAdvisor.remedies(for: later).first == .lowerLearningRate)
    }
}
