import ArgumentParser
import Foundation
import GradAlertAnalysis
import GradientDetection
import MetricsEndpoint
import TensorBoardEvents

/// `gradalert watch`: incidents as training writes them.
package struct WatchCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a log directory while training runs and report each incident as it happens.",
        discussion: """
            Polls LOGDIR every --interval seconds for new runs, new event files and records \
            appended to existing ones, and runs the same analysis as `scan` over them. Alerts \
            that overlap in time in one run are one incident; watch prints when an incident \
            opens, escalates (warning to critical) and closes. Existing records are read first, \
            so incidents already in the logs are reported too. Files that several processes \
            write into one run folder at the same time (data-parallel ranks) are followed as \
            separate writers, as scan reads them, not as restarts.

            --format jsonl prints one JSON object per line: {"type": "incident", "change": \
            "opened" | "escalated" | "closed", ...} with the incident fields of scan's JSON, \
            and {"type": "alert", ...} for every alert.

            --exec CMD runs CMD with /bin/sh once when an incident opens (--exec-on adds \
            escalated, closed, or alert for every alert), with the event's JSON on its standard \
            input and GRADALERT_EVENT (incident_opened, incident_escalated, incident_closed or \
            alert), GRADALERT_RUN, GRADALERT_STREAM, GRADALERT_INCIDENT (its id), \
            GRADALERT_SEVERITY, GRADALERT_KIND (kinds, comma-separated), GRADALERT_STEP, \
            GRADALERT_OPENING_STEP, GRADALERT_ORIGIN (the layer that went first), \
            GRADALERT_LAYERS, GRADALERT_SUMMARY and, for alerts, GRADALERT_TAG in its \
            environment. Incidents already on disk when watch starts are reported but run no \
            command, unless --exec-backlog is given.

            Stops cleanly on Ctrl-C (SIGINT) or SIGTERM; exit status 0, or 2 on a usage error or when --metrics-listen cannot listen (the port is taken).

            Examples:
              gradalert watch runs/
              gradalert watch runs/ --exec 'notify-send "gradalert" "$GRADALERT_SUMMARY"'
              gradalert watch runs/ --format jsonl --exec 'curl -s -d @- https://hooks.example/gradalert'
            """
    )

    package enum Format: String, ExpressibleByArgument, CaseIterable, Sendable {
        case text, jsonl
    }

    /// What runs the --exec command.
    package enum ExecTrigger: String, ExpressibleByArgument, CaseIterable, Sendable {
        case opened, escalated, closed, alert
    }

    @Argument(help: "The log directory to follow (it may not exist yet).")
    package var logdir: String

    @Option(help: "Output: text, or jsonl (one JSON object per incident event and per alert).")
    package var format: Format = .text

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds between polls.", valueName: "seconds"))
    package var interval: Double = 2

    @Option(name: .customLong("exec"), help: ArgumentHelp("Shell command run when an incident opens (see --exec-on), the event's JSON on stdin.", valueName: "command"))
    package var command: String?

    @Option(name: .customLong("exec-on"), help: ArgumentHelp("What runs --exec: opened (the default), escalated, closed, or alert (every alert); repeatable.", valueName: "event"))
    package var execOn: [ExecTrigger] = []

    @Flag(name: .customLong("exec-backlog"), help: "Also run --exec for incidents already on disk when watch starts.")
    package var execBacklog = false

    @Flag(name: [.customLong("alerts"), .customLong("verbose")], help: "Also print every alert (text output).")
    package var listAlerts = false

    @Option(name: .customLong("metrics-listen"), help: ArgumentHelp("Serve Prometheus metrics on HOST:PORT (/metrics, /healthz) while following; see docs/monitoring.md.", valueName: "host:port"))
    package var metricsListen: String?

    @Option(name: .customLong("metrics-layers"), parsing: .unconditional, help: ArgumentHelp("With --metrics-listen: also export the N largest per-layer gradient norms of each stream (default 0: none; each is a series per stream).", valueName: "n"))
    package var metricsLayers: Int?

    @Option(name: .customLong("incident-grace"), parsing: .unconditional, help: ArgumentHelp("With --metrics-listen: seconds a closed incident stays exported (its series at 0), so that Prometheus sees it even when it opened and closed between two scrapes (default 300).", valueName: "seconds"))
    package var incidentGrace: Double?

    @Option(name: .customLong("forget-after"), parsing: .unconditional, help: ArgumentHelp("Seconds after a run's files are gone before watch forgets it (and its metrics).", valueName: "seconds"))
    package var forgetAfter: Double = 300

    @OptionGroup(title: "Detector")
    package var detector: DetectorOptions

    package init() {}

    package mutating func validate() throws {
        guard interval > 0, interval <= 3600 else { throw ValidationError("--interval must be above 0 and at most 3600 seconds, not \(NumberFormat.short(interval))") }
        if command == nil, !execOn.isEmpty || execBacklog {
            throw ValidationError("--exec-on and --exec-backlog go with --exec")
        }
        if let metricsListen, Self.hostAndPort(metricsListen) == nil {
            throw ValidationError("--metrics-listen takes HOST:PORT, such as 127.0.0.1:9464 or 0.0.0.0:9464, not '\(metricsListen)'")
        }
        if metricsListen == nil, metricsLayers != nil || incidentGrace != nil {
            throw ValidationError("--metrics-layers and --incident-grace go with --metrics-listen")
        }
        guard (metricsLayers ?? 0) >= 0, (incidentGrace ?? 0) >= 0, forgetAfter >= 0 else {
            throw ValidationError("--metrics-layers, --incident-grace and --forget-after must not be negative")
        }
    }

    /// What runs the command: --exec-on, or incidents opening.
    private var triggers: Set<ExecTrigger> { execOn.isEmpty ? [.opened] : Set(execOn) }

    /// "host:port" split, the host without IPv6 brackets.
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    package func run() async throws {
        // An --exec command that does not read its standard input must not kill us with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let follower = LogFollower(logdir: logdir, classifier: try detector.classifier(), configuration: try detector.checkedConfiguration())
        follower.forgetAfter = forgetAfter
        let stop = StopSignal()
        let colour = isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        var metrics: FleetMetrics?
        var endpoint: MetricsServer?
        let health = HealthState(interval: interval)
        if let metricsListen, let (host, port) = Self.hostAndPort(metricsListen) {
            let fleet = FleetMetrics(layerLimit: metricsLayers ?? 0, incidentGrace: incidentGrace ?? 300)
            do {
                endpoint = try await MetricsServer.start(registry: fleet.registry, host: host, port: port) { health.report() }
            } catch {
                printError("gradalert watch: \(error)")
                throw ExitCode(ExitStatus.usage)
            }
            metrics = fleet
        }
        if format == .text {
            var line = "gradalert watch: following \(logdir) every \(NumberFormat.short(interval)) s"
            if let endpoint {
                // An IPv6 address goes in brackets in a URL.
                let host = endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
                line += ", metrics on http://\(host):\(endpoint.port)/metrics"
            }
            printError(line + " (Ctrl-C to stop)")
        }
        var totals = Totals()
        var firstPoll = true
        var backlog = Backlog()
        while !stop.requested {
            let pollStarted = Date().timeIntervalSince1970
            let poll = follower.poll { stop.requested }
            if stop.requested { break }  // within a second of the signal, even in a long first poll
            report(poll, firstPoll: firstPoll, backlog: backlog, colour: colour, totals: &totals)
            metrics?.update(from: follower, poll: poll, started: pollStarted)
            health.polled(runs: follower.runNames.count, error: poll.error)
            if firstPoll && !poll.interrupted {
                firstPoll = false
                backlog = Backlog(follower)
            }
            // A run forgotten and written again later starts afresh: its steps are all new.
            for name in poll.forgotten { backlog.forget(run: name) }
            var waited = 0.0
            while waited < interval && !stop.requested {
                try? await Task.sleep(for: .milliseconds(100))
                waited += 0.1
            }
        }
        try? await endpoint?.stop()
        if format == .text {
            let runs = follower.runNames.count
            printError("gradalert watch: stopped; followed \(ScanText.count(runs, "run")), \(totals.runsWithIncidents.count) with incidents: \(ScanText.count(totals.incidents, "incident")) (\(ScanText.count(totals.alerts, "alert")))")
        }
    }

    /// What /healthz says: ok while polls keep coming.
    final class HealthState: @unchecked Sendable {
        private let lock = NSLock()
        private let interval: Double
        private var lastPoll: Double?
        private var runs = 0
        private var error: String?

        init(interval: Double) { self.interval = interval }

        func polled(runs: Int, error: String?) {
            lock.withLock {
                lastPoll = Date().timeIntervalSince1970
                self.runs = runs
                self.error = error
            }
        }

        func report() -> (ok: Bool, message: String) {
            lock.withLock {
                guard let lastPoll else { return (true, "starting: the first poll is reading the logs") }
                let age = Date().timeIntervalSince1970 - lastPoll
                if age > 3 * interval + 60 { return (false, "stuck: the last poll ended \(Int(age)) s ago") }
                if let error { return (true, "ok, \(runs) runs; the log directory cannot be listed: \(error)") }
                return (true, "ok, \(runs) runs, last poll \(NumberFormat.fixed(age, decimals: 1)) s ago")
            }
        }
    }

    /// What watch has reported so far (its closing line).
    struct Totals {
        var incidents = 0
        var alerts = 0
        var runsWithIncidents: Set<String> = []
    }

    /// One thing a poll found, to print in order: per run and stream, by step; at a step, an
    /// incident's opening or escalation before its alerts, and a closing after them.
    private enum Item {
        case incident(RunIncidentEvent)
        case alert(LogFollower.Finding)

        var run: String {
            switch self {
            case .incident(let event): event.incident.run
            case .alert(let finding): finding.run
            }
        }

        var order: (stream: Int, step: Int64, rank: Int) {
            switch self {
            case .incident(let event): (event.incident.stream, event.step, event.change == .closed ? 2 : 0)
            case .alert(let finding): (finding.alert.stream, finding.alert.alert.step, 1)
            }
        }
    }

    /// Where each stream's reading stood after the first poll: the steps that were on disk when
    /// watch started. Decided by step, not by the wall times in the file, which another machine's
    /// clock (or a writer that leaves them 0) wrote.
    struct Backlog {
        private var marks: [String: [Int: (segment: Int, step: Int64)]] = [:]

        init() {}

        init(_ follower: LogFollower) {
            for (name, analyzer) in follower.analyzers {
                for stream in 0..<analyzer.streamCount {
                    let assembler = analyzer.stream(stream).assembler
                    if let latest = assembler.latestStep { marks[name, default: [:]][stream] = (assembler.segment, latest.step) }
                }
            }
        }

        /// Forgets a run (gone from the logdir): if it comes back, nothing of it is backlog.
        mutating func forget(run: String) { marks[run] = nil }

        /// Whether a step of a run's stream was already on disk when watch started (a restart
        /// since then starts a new segment, whose steps are new whatever their numbers).
        func contains(run: String, stream: Int, segment: Int, step: Int64) -> Bool {
            guard let mark = marks[run]?[stream] else { return false }
            return segment == mark.segment && step <= mark.step
        }
    }

    /// Prints what one poll found and runs --exec for it. What was on disk before watch started —
    /// everything the first poll reads, and later events at steps that were on disk then (the last
    /// step on disk is judged on the second poll) — is reported but runs no command unless
    /// --exec-backlog.
    func report(_ poll: LogFollower.Poll, firstPoll: Bool, backlog: Backlog, colour: Bool, totals: inout Totals) {
        let text = ScanText(colour: colour)
        var runOrder: [String: Int] = [:]
        var items: [Item] = poll.incidents.map { .incident($0) } + poll.alerts.map { .alert($0) }
        for item in items where runOrder[item.run] == nil { runOrder[item.run] = runOrder.count }
        items = items.enumerated().sorted { a, b in
            let (x, y) = (a.element.order, b.element.order)
            let (ra, rb) = (runOrder[a.element.run]!, runOrder[b.element.run]!)
            if ra != rb { return ra < rb }
            if x.stream != y.stream { return x.stream < y.stream }
            if x.step != y.step { return x.step < y.step }
            if x.rank != y.rank { return x.rank < y.rank }
            return a.offset < b.offset
        }.map(\.element)
        var out = ""
        for item in items {
            switch item {
            case .incident(let event):
                if event.change == .opened {
                    totals.incidents += 1
                    totals.runsWithIncidents.insert(event.incident.run)
                }
                var json = JSONWriter()
                ScanJSON.incident(event.incident, run: event.incident.run, event: (event.change, event.step), into: &json)
                switch format {
                case .text: out += text.incidentLines(event.incident, run: event.incident.run, change: event.change)
                case .jsonl: out += json.output + "\n"
                }
                let trigger: ExecTrigger = switch event.change {
                case .opened: .opened
                case .escalated: .escalated
                case .closed: .closed
                }
                let old = firstPoll || backlog.contains(run: event.incident.run, stream: event.incident.stream, segment: event.incident.incident.segment, step: event.step)
                if let command, triggers.contains(trigger), !old || execBacklog {
                    flush(&out)
                    Self.execute(command, input: json.output, environment: Self.environment(event))
                }
            case .alert(let finding):
                totals.alerts += 1
                var json = JSONWriter()
                ScanJSON.alert(finding.alert, run: finding.run, type: "alert", into: &json)
                switch format {
                case .text: if listAlerts { out += text.alertLines(finding.alert, run: finding.run, withRemedies: false) }
                case .jsonl: out += json.output + "\n"
                }
                let old = firstPoll || backlog.contains(run: finding.run, stream: finding.alert.stream, segment: finding.alert.segment, step: finding.alert.alert.step)
                if let command, triggers.contains(.alert), !old || execBacklog {
                    flush(&out)
                    Self.execute(command, input: json.output, environment: Self.environment(finding))
                }
            }
        }
        flush(&out)
        for diagnostic in poll.diagnostics {
            printError("gradalert watch: \(diagnostic)")
        }
    }

    private func flush(_ out: inout String) {
        guard !out.isEmpty else { return }
        FileHandle.standardOutput.write(Data(out.utf8))
        out = ""
    }

    static func environment(_ event: RunIncidentEvent) -> [String: String] {
        let incident = event.incident.incident
        return [
            "GRADALERT_EVENT": "incident_\(event.change.rawValue)",
            "GRADALERT_RUN": event.incident.run,
            "GRADALERT_STREAM": String(event.incident.stream),
            "GRADALERT_INCIDENT": event.incident.id,
            "GRADALERT_SEVERITY": incident.severity.rawValue,
            "GRADALERT_KIND": incident.kinds.map(\.rawValue).joined(separator: ","),
            "GRADALERT_STEP": String(event.step),
            "GRADALERT_OPENING_STEP": String(incident.openingStep),
            "GRADALERT_ORIGIN": incident.originLayer ?? "",
            "GRADALERT_LAYERS": String(incident.layerCount),
            "GRADALERT_SUMMARY": incident.headline,
        ]
    }

    static func environment(_ finding: LogFollower.Finding) -> [String: String] {
        let alert = finding.alert.alert
        return [
            "GRADALERT_EVENT": "alert",
            "GRADALERT_RUN": finding.run,
            "GRADALERT_STREAM": String(finding.alert.stream),
            "GRADALERT_INCIDENT": finding.alert.incident,
            "GRADALERT_SEVERITY": alert.severity.rawValue,
            "GRADALERT_KIND": alert.kind.rawValue,
            "GRADALERT_TAG": alert.series,
            "GRADALERT_STEP": String(alert.step),
            "GRADALERT_ORIGIN": alert.origin.map(Incident.layerName) ?? "",
            "GRADALERT_SUMMARY": alert.message,
        ]
    }

    /// Runs `command` through /bin/sh with `input` on stdin; its failure is reported, not fatal.
    static func execute(_ command: String, input: String, environment extra: [String: String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        let pipe = Pipe()
        process.standardInput = pipe
        do {
            try process.run()
            try? pipe.fileHandleForWriting.write(contentsOf: Data((input + "\n").utf8))
            try? pipe.fileHandleForWriting.close()
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                printError("gradalert watch: --exec command exited with status \(process.terminationStatus)")
            }
        } catch {
            printError("gradalert watch: cannot run --exec command: \(error)")
        }
    }
}
