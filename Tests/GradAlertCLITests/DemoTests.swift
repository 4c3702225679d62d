import GradientDetection
import ArgumentParser
import Foundation
import GradAlertAnalysis
import GradAlertLab
import Testing

@testable import GradAlertCLI
@testable import TensorBoardEvents

@Suite struct DemoTests {
    static func demo(_ arguments: [String]) async throws -> (logdir: String, output: String, status: Int32) {
        let logdir = FileManager.default.temporaryDirectory.path + "/gradalert-demo-" + UUID().uuidString
        var command = try Demo.parse(["--logdir", logdir] + arguments)
        try command.validate()
        var output = ""
        let status = try await command.execute(output: &output)
        return (logdir, output, status)
    }

    static func row(_ output: String, _ run: String) throws -> String {
        try #require(output.split(separator: "\n").map(String.init).first { $0.hasPrefix("  " + run + " ") }, "no row for \(run)")
    }

    /// One cause, trained for real: its baseline explodes, the remedies that address it fix it,
    /// the one that does not does not; the logs, the report and the summary are written.
    @Test func aCauseItsRemediesAndTheReport() async throws {
        let (logdir, output, status) = try await Self.demo(["--steps", "60", "--only", "init-too-large"])
        defer { try? FileManager.default.removeItem(atPath: logdir) }
        #expect(status == ExitStatus.success)
        #expect(output.contains("weights initialised too large: "))
        #expect(try Self.row(output, "init-too-large/baseline").contains("NaN/Inf from step"))
        #expect(try Self.row(output, "init-too-large/kaiming").contains(" fixed "))
        #expect(try Self.row(output, "init-too-large/layernorm").contains(" fixed "))
        #expect(output.contains("tensorboard --logdir \(logdir)"))
        #expect(output.contains("open \(logdir)/gradalert-report.html"))
        // The report draws the runs.
        let page = try String(contentsOfFile: logdir + "/gradalert-report.html", encoding: .utf8)
        #expect(page.contains("init-too-large/kaiming"))
        #expect(page.contains("<svg"))
        // The summary for scripts says the same, with each remedy's family.
        let summary = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: logdir + "/gradalert-demo.json"))) as? [String: Any])
        let runs = try #require(((summary["causes"] as? [[String: Any]])?.first?["runs"]) as? [[String: Any]])
        let kaiming = try #require(runs.first { $0["run"] as? String == "init-too-large/kaiming" })
        #expect(kaiming["remedy"] as? String == "better_initialisation")
        #expect(kaiming["outcome"] as? String == "fixed")
        #expect(kaiming["verdict"] as? String == "healthy")
        #expect(runs.first { $0["baseline"] as? Bool == true }?["verdict"] as? String == "nonfinite")
        // Everything the monitor promises is in the logdir, with a gradient-flow image.
        let run = try #require(try LogDirectory.runs(in: logdir).first { $0.name == "init-too-large/kaiming" })
        var kinds: Set<String> = []
        var tags: Set<String> = []
        for case .event(let event, _) in EventFileReader(path: run.files[0]).readAll() {
            for value in event.summaryValues {
                kinds.insert(value.kind)
                tags.insert(value.tag)
            }
        }
        #expect(kinds.isSuperset(of: ["scalar", "histogram", "image", "text"]))
        #expect(tags.isSuperset(of: ["gradient-flow", "grad_norm/global", "loss"]))
    }

    /// The words come from the scan and say what happened: a bounded activation fixes the ReLU
    /// recurrent net; clipping bounds the update but not the forward pass, so no NaN but the
    /// gradients still spike; LeakyReLU is as unbounded as ReLU and goes NaN as early.
    @Test func theOutcomeWordsSayWhatEachRemedyDid() async throws {
        let (logdir, output, _) = try await Self.demo(["--steps", "40", "--only", "unbounded-activation"])
        defer { try? FileManager.default.removeItem(atPath: logdir) }
        #expect(try Self.row(output, "unbounded-activation/tanh").contains(" fixed "))
        #expect(try Self.row(output, "unbounded-activation/clip").contains("no NaN, but still spiking from step"))
        #expect(try Self.row(output, "unbounded-activation/leaky-relu").contains("did not help"))
    }

    /// A learning rate ten times lower does not save weights four times too large: the explosion
    /// is gone, but the network dies (its gradients vanish), and the scan says so.
    @Test func aLowerRateLetsTheTooLargeWeightsDie() async throws {
        let (logdir, output, _) = try await Self.demo(["--steps", "120", "--only", "init-too-large/baseline", "--only", "init-too-large/lower-lr"])
        defer { try? FileManager.default.removeItem(atPath: logdir) }
        #expect(try Self.row(output, "init-too-large/lower-lr").contains("no explosion, but gradients vanished from step"))
        let report = try #require(await LogScanner(classifier: try TagClassifier(), configuration: .init())
            .scan(runs: try RunDiscovery.runs(under: [logdir])).reports.first { $0.run == "init-too-large/lower-lr" })
        #expect(report.verdict == .warning)
        #expect(report.alerts.contains { $0.alert.kind == .vanishing || $0.alert.kind == .collapse })
    }

    @Test func unknownCausesAndRunsAreUsageErrors() throws {
        // parse() runs validate(): an unknown name is refused before anything is trained.
        #expect(throws: (any Error).self) { _ = try Demo.parse(["--only", "no-such-run"]) }
        #expect(throws: (any Error).self) { _ = try Demo.parse(["--only", "lr-too-high/no-such-remedy"]) }
        #expect(throws: (any Error).self) { _ = try Demo.parse(["--steps", "3"]) }
        _ = try Demo.parse(["--only", "lr-too-high", "--only", "too-deep/residual"])
    }

    /// Every remedy family of DESIGN.md is tried somewhere, every cause has a baseline, and run
    /// names are unique (the check in Tools/check trains them all and checks each family fixes its
    /// cause in at least one run).
    @Test func theCatalogueCoversEveryRemedyFamily() {
        let causes = Lab.causes()
        let remedies = Set(causes.flatMap(\.remedies).compactMap(\.remedy))
        let families: Set<Remedy> = [.lowerLearningRate, .clipGradients, .betterInitialisation, .smootherActivations,
                                     .normalisation, .residualConnections, .adaptiveOptimiser, .smootherLoss]
        #expect(families.isSubset(of: remedies))
        let names = causes.flatMap(\.experiments).map(\.name)
        #expect(Set(names).count == names.count)
        for cause in causes {
            #expect(cause.baseline.name == cause.id + "/baseline")
            #expect(cause.remedies.allSatisfy { $0.name.hasPrefix(cause.id + "/") && $0.remedy != nil })
        }
    }
}
