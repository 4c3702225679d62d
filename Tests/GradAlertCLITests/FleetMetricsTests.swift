import Foundation
import GradAlertAnalysis
import GradAlertTestSupport
import GradientDetection
import MetricsEndpoint
import Prometheus
import TensorBoardEvents
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@testable import GradAlertCLI

/// What `watch --metrics-listen` serves, over real HTTP: the values the runs wrote, incidents,
/// escaped labels; runs that go away drop out.
@Suite struct FleetMetricsTests {
    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The value of the series whose line starts with `prefix` (name and labels, as emitted).
    static func value(_ body: String, _ prefix: String) -> String? {
        body.split(separator: "\n").first { $0.hasPrefix(prefix + " ") }.map { String($0.dropFirst(prefix.count + 1)) }
    }

    @Test func servesTheFleetOverHTTP() async throws {
        let folder = try TemporaryDirectory()
        // A run with an awkward name, and one that explodes.
        let awkward = folder.path + "/lr \"0.1\" \\ β"
        try writeRun(awkward, steps: 0..<50, layers: ["fc1", "fc2"])
        try writeRun(folder.path + "/boom", steps: 0..<120, layers: ["fc1", "fc2"], norm: { step, _ in step >= 100 ? 1e4 : nil })
        let follower = LogFollower(logdir: folder.path, classifier: try TagClassifier(), configuration: DetectorConfiguration())
        follower.forgetAfter = 0
        let fleet = FleetMetrics(layerLimit: 1, incidentGrace: 300)
        for _ in 0..<2 { fleet.update(from: follower, poll: follower.poll()) }
        let endpoint = try await MetricsServer.start(registry: fleet.registry, host: "127.0.0.1", port: 0) { (true, "ok") }
        defer { Task { try? await endpoint.stop() } }
        let (status, body) = try await Self.get("http://127.0.0.1:\(endpoint.port)/metrics")
        #expect(status == 200)
        let escaped = #"lr \"0.1\" \\ β"#
        #expect(Self.value(body, "gradalert_last_step{run=\"\(escaped)\",stream=\"0\"}") == "49.0")
        #expect(Self.value(body, "gradalert_last_step{run=\"boom\",stream=\"0\"}") == "119.0")
        // The last global norm, exactly as the file holds it (a float32).
        let file = try #require(try LogDirectory.runs(in: folder.path + "/boom").first?.files.first)
        var lastGlobal: Double?
        for case .event(let event, _) in EventFileReader(path: file).readAll() {
            for value in event.summaryValues where value.tag == "grad_norm/global" {
                if case .scalar(let number) = value.value { lastGlobal = number }
            }
        }
        #expect(Self.value(body, "gradalert_gradient_norm{run=\"boom\",stream=\"0\"}").flatMap(Double.init) == lastGlobal)
        #expect(Self.value(body, "gradalert_run_verdict{run=\"boom\",verdict=\"exploding\"}") == "1.0")
        #expect(Self.value(body, "gradalert_run_verdict{run=\"\(escaped)\",verdict=\"healthy\"}") == "1.0")
        #expect(body.contains("gradalert_incident_open{run=\"boom\",stream=\"0\",incident=\"boom:0:0:100\",severity=\"critical\",kind=\"spike\",origin=\"fc1\"} 1.0")
            || body.contains("gradalert_incident_open{run=\"boom\",stream=\"0\",incident=\"boom:0:0:100\",severity=\"critical\",kind=\"spike\",origin=\"fc2\"} 1.0"))
        #expect(Self.value(body, "gradalert_incidents_opened_total{run=\"boom\",stream=\"0\",kind=\"spike\",severity=\"critical\"}") == "1")
        // One layer per stream (--metrics-layers 1): the largest.
        #expect(body.split(separator: "\n").filter { $0.hasPrefix("gradalert_layer_gradient_norm{run=\"boom\"") }.count == 1)
        let health = try await Self.get("http://127.0.0.1:\(endpoint.port)/healthz")
        #expect(health.status == 200 && health.body == "ok\n")
        #expect(try await Self.get("http://127.0.0.1:\(endpoint.port)/nope").status == 404)

        // A run whose files are gone is forgotten (here at once), and its series with it.
        try FileManager.default.removeItem(atPath: folder.path + "/boom")
        try await Task.sleep(for: .milliseconds(10))
        fleet.update(from: follower, poll: follower.poll())
        let after = try await Self.get("http://127.0.0.1:\(endpoint.port)/metrics").body
        #expect(!after.contains("run=\"boom\""))
        #expect(after.contains("run=\"\(escaped)\""))
        #expect(Self.value(after, "gradalert_runs") == "1.0")
    }

    /// A run that logs each layer's norm as a scalar and its gradients as a histogram (as
    /// GradientMonitor does) exports each layer once, with the scalar's value — as the detector
    /// reads it.
    @Test func aLayerLoggedTwiceIsExportedOnce() throws {
        let folder = try TemporaryDirectory()
        var options = SummaryWriter.Options()
        options.flushInterval = nil
        let writer = try SummaryWriter(logdir: folder.path + "/run", options: options)
        for step in 0..<30 {
            try writer.scalar("grad_norm/global", 2, step: step)
            try writer.scalar("grad_norm/fc1", 2, step: step)
            try writer.histogram("grad/fc1", values: [30, -30, 40], step: step)
            try writer.scalar("loss", 1, step: step)
        }
        try writer.close()
        let follower = LogFollower(logdir: folder.path, classifier: try TagClassifier(), configuration: DetectorConfiguration())
        let fleet = FleetMetrics(layerLimit: 10, incidentGrace: 300)
        for _ in 0..<2 { fleet.update(from: follower, poll: follower.poll()) }
        var buffer: [UInt8] = []
        fleet.registry.emit(into: &buffer)
        let lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("gradalert_layer_gradient_norm{") }
        #expect(lines == ["gradalert_layer_gradient_norm{run=\"run\",stream=\"0\",layer=\"fc1\"} 2.0"], "\(lines)")
    }
}

