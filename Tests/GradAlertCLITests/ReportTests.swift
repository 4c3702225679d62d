import ArgumentParser
import Foundation
import GradAlertAnalysis
import GradAlertTestSupport
import GradientDetection
import Testing

@testable import GradAlertCLI
@testable import TensorBoardEvents

/// Runs `gradalert report ARGUMENTS` in-process; the document comes back with `-o -`.
func reportCommand(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    var command = try Report.parse(arguments)
    try command.validate()
    var output = ""
    let status = try await command.execute(output: &output)
    return (status, output)
}

@Suite struct ReportTests {
    static let training = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/training").path

    /// The true per-step loss and global norm of each fixture run (Tools/fixtures/train_runs.py).
    nonisolated(unsafe) static let series: [String: [String: Any]] = {
        guard let data = FileManager.default.contents(atPath: training + "/series.json"),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let runs = object["runs"] as? [String: [String: Any]]
        else { return [:] }
        return runs
    }()

    /// A row per run and the incidents of the exploding runs, in words, as scan finds them.
    @Test func fixturesPageHasEveryRunAndItsIncidents() async throws {
        let (status, html) = try await reportCommand([Self.training, "-o", "-"])
        #expect(status == ExitStatus.found)
        let scanned = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration())
            .scan(runs: try RunDiscovery.runs(under: [Self.training])).reports
        #expect(scanned.count == 17)
        let body = try #require(Self.between(html, "<tbody>", "</tbody>"))
        #expect(Self.count("<tr>", in: body) == scanned.count)
        for run in scanned {
            #expect(body.contains(">\(HTMLText.escape(run.run))<"), "no table row for \(run.run)")
            for entry in run.incidents {
                #expect(html.contains(HTMLText.escape(entry.incident.headline)), "\(run.run): headline missing")
                #expect(html.contains(HTMLText.escape(entry.incident.detail)), "\(run.run): detail missing")
                for remedy in entry.incident.remedies { #expect(html.contains(HTMLText.escape(remedy.advice))) }
            }
        }
        // Alerting rows come first.
        let firstHealthy = try #require(body.range(of: "v-healthy"))
        #expect(!body[firstHealthy.upperBound...].contains("v-nonfinite"))
        // One section per run (17 runs is under the limit): a norm chart where the run has
        // gradient series, a loss chart where it has a loss, a heatmap where it has layers.
        #expect(Self.count("<details class=\"run\"", in: html) == scanned.count)
        #expect(Self.count("<svg class=\"chart norm\"", in: html) == scanned.filter { !$0.gradientSeries.isEmpty }.count)
        #expect(Self.count("<svg class=\"chart loss\"", in: html) == scanned.filter { !$0.lossSeries.isEmpty }.count)
        #expect(Self.count("<svg class=\"chart heatmap\"", in: html) >= 10)
        // Self-contained: nothing to load, nothing to run.
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") && !html.contains("https://"))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.hasSuffix("</html>\n"))
        // The non-finite layers of the deep ReLU net are marked in its heatmap.
        let deep = try #require(Self.section(html, run: "exploding/deep_relu_warmup_too_high", in: scanned))
        #expect(deep.contains("class=\"cells nf\""))
        #expect(deep.contains("class=\"layer origin\""))
        #expect(deep.contains("<title>NaN at steps"))
    }

    /// The drawn points are the series: the path of the global-norm and loss charts of real runs,
    /// turned back into steps and values with the scales the chart states, hits the true value of
    /// every step (series.json, from the values in memory during training) within a pixel.
    @Test(arguments: ["healthy/warmup_cosine_deep", "exploding/lr_range_test_growth"])
    func drawnPointsMatchTheSeries(run: String) async throws {
        let (_, html) = try await reportCommand([Self.training + "/" + run, "-o", "-"])
        let truth = try #require(Self.series[run])
        let steps = try #require(truth["steps"] as? [Int])
        for (chart, key) in [("norm", "global_norm"), ("loss", "loss")] {
            let svg = try #require(Self.svg(html, "<svg class=\"chart \(chart)\""), "\(run): no \(chart) chart")
            let scale = try ChartScale(svg)
            #expect(scale.logarithmic)
            let values = try #require(truth[key] as? [Any])
            let points = Self.vertices(Self.attribute("d", of: try #require(Self.element(svg, "<path class=\"line\""))) ?? "")
            var finite = 0
            for (step, value) in zip(steps, values) {
                // Non-finite values are strings in series.json.
                guard let value = value as? Double, value.isFinite, value > 0 else { continue }
                if key == "global_norm", let overflowed = truth["global_norm_f32"] as? [String: Any], overflowed[String(step)] != nil {
                    continue  // the run logged float32 Inf here (it is a band, checked below)
                }
                finite += 1
                let x = scale.x(Double(step))
                let y = scale.y(value)
                #expect(points.contains { abs($0.x - x) <= 1 && abs($0.y - y) <= 1 }, "\(run) \(chart): step \(step) = \(value) not drawn at (\(x), \(y))")
            }
            // Fewer steps than pixel columns: every value is a vertex of its own.
            #expect(points.count == finite, "\(run) \(chart): \(points.count) vertices for \(finite) values")
        }
        if run == "exploding/lr_range_test_growth" {
            // float32 global norm overflowed at steps 239–244: one +Inf band over them.
            let svg = try #require(Self.svg(html, "<svg class=\"chart norm\""))
            #expect(svg.contains("<title>+Inf at steps 239–244</title>"))
            #expect(html.contains("class=\"span critical\""))
            #expect(html.contains("class=\"open critical\""))
        }
    }

    /// Run folders and tags are text: a folder named <script>…</script> and a tag holding
    /// "><img onerror=…> are escaped wherever they appear (table, section, heatmap, incident
    /// text, Markdown), and nothing of them is markup.
    @Test func textFromTheLogsIsEscaped() async throws {
        let folder = try TemporaryDirectory()
        // "/" cannot be in a folder name: the run is the folder <script>alert(1)< holding script>.
        let hostileRun = "<script>alert(1)</script>"
        try writeRun(folder.path + "/" + hostileRun, steps: 0..<120, norm: { step, _ in step >= 100 ? .nan : nil })
        let hostileLayer = "\"><img src=x onerror=alert(1)>"
        try writeRun(folder.path + "/tags", steps: 0..<150, layers: ["fc", hostileLayer], global: false, norm: { step, layer in
            step >= 120 && layer == hostileLayer ? 1e5 : nil
        })
        try writeRun(folder.path + "/pipe|run", steps: 0..<120, norm: { step, _ in step >= 100 ? .nan : nil })

        let (status, html) = try await reportCommand([folder.path, "-o", "-"])
        #expect(status == ExitStatus.found)
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.lowercased().contains("<img"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"))
        // The hostile layer is the origin: in the incident text and as a heatmap row's title.
        #expect(html.contains("first &quot;&gt;&lt;img src=x onerror=alert(1)&gt;"))
        #expect(html.contains("<title>grad_norm/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</title>"))

        let (_, markdown) = try await reportCommand([folder.path, "--format", "markdown", "-o", "-"])
        #expect(!markdown.lowercased().contains("<script"))
        #expect(!markdown.lowercased().contains("<img"))
        #expect(markdown.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        // A pipe in a name does not end its cell: 8 unescaped pipes make 7 cells.
        let row = try #require(markdown.split(separator: "\n").first { $0.contains("pipe\\|run") })
        #expect(row.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count == 8)
    }

    /// min/max per pixel column: in a 100,000-step run, a spike of one step is drawn at its step
    /// and height, and the chart has at most two vertices per pixel column.
    @Test func downsamplingKeepsASingleStepSpike() async throws {
        let folder = try TemporaryDirectory()
        let writer = try SummaryWriter(logdir: folder.path + "/long")
        let spikeStep = 73_211
        for step in 0..<100_000 {
            let norm = step == spikeStep ? 1e4 : 1 + 0.2 * sin(Double(step) * 0.37)
            try writer.scalar("grad_norm/global", norm, step: step)
            if step.isMultiple(of: 100) { try writer.scalar("loss", 2 - Double(step) / 1e5, step: step) }
        }
        try writer.close()
        let (_, html) = try await reportCommand([folder.path, "-o", "-", "--fail-on", "never"])
        let svg = try #require(Self.svg(html, "<svg class=\"chart norm\""))
        let scale = try ChartScale(svg)
        let points = Self.vertices(Self.attribute("d", of: try #require(Self.element(svg, "<path class=\"line\""))) ?? "")
        #expect(points.count <= 2 * ChartLayout.plotWidth)
        #expect(points.count > ChartLayout.plotWidth / 2)
        let x = scale.x(Double(spikeStep))
        let y = scale.y(1e4)
        #expect(points.contains { abs($0.x - x) <= 1 && abs($0.y - y) <= 1 }, "the spike at step \(spikeStep) is not drawn")
        // The spike is the top of the chart, and the quiet level (0.8–1.2) its bottom.
        #expect(abs(scale.y(1e4) - Double(ChartLayout.lineTop)) < 10)
        #expect(points.allSatisfy { $0.y >= scale.y(1e4) - 1 && $0.y <= scale.y(0.79) + 1 })
    }

    /// The downsampler itself: for 100,000 random values, every pixel column's true smallest and
    /// largest value is drawn, in that column or (when a bucket straddles two) the next one.
    @Test func everyColumnsExtremesAreDrawn() {
        var random = TestRandom(seed: 7)
        var buckets = StepBuckets(capacity: RunSeries.lineCapacity)
        let count = 100_000
        let scale = StepScale(first: 0, last: Int64(count - 1))
        var trueLow = [Double](repeating: .infinity, count: ChartLayout.plotWidth)
        var trueHigh = [Double](repeating: -.infinity, count: ChartLayout.plotWidth)
        for step in 0..<count {
            let value = exp(4 * random.uniform())
            buckets.add(step: Int64(step), value: value)
            let column = scale.column(Int64(step))
            trueLow[column] = min(trueLow[column], value)
            trueHigh[column] = max(trueHigh[column], value)
        }
        #expect(buckets.buckets.count <= RunSeries.lineCapacity)
        let columns = buckets.columns(scale, logarithmic: true)
        for column in 0..<ChartLayout.plotWidth {
            let near = columns[max(0, column - 1)...min(ChartLayout.plotWidth - 1, column + 1)]
            #expect(near.contains { ($0.high?.value ?? -.infinity) >= trueHigh[column] }, "column \(column): max \(trueHigh[column]) lost")
            #expect(near.contains { ($0.low?.value ?? .infinity) <= trueLow[column] }, "column \(column): min \(trueLow[column]) lost")
        }
        // Steps going back (a restart) and negative steps are bucketed too.
        var mixed = StepBuckets(capacity: 8)
        for step: Int64 in [5, -3, 100, 40, -1_000, 7] { mixed.add(step: step, value: Double(step)) }
        #expect(mixed.firstStep == -1_000 && mixed.lastStep == 100)
        #expect(mixed.buckets.count <= 8)
        #expect(mixed.finiteRange(positive: false)?.low == -1_000)
        #expect(mixed.finiteRange(positive: false)?.high == 100)
    }

    /// A 1,000-run logdir makes a page of bounded size: every run has its table row, only the
    /// alerting ones are drawn, and a line says why. (The bound documented in docs/cli.md.)
    @Test func thousandRunsMakeABoundedPage() async throws {
        let folder = try TemporaryDirectory()
        for index in 0..<1_000 {
            let explodes = index.isMultiple(of: 100)
            try writeRun(folder.path + "/run\(String(format: "%04d", index))", steps: 0..<6, seed: UInt64(index + 1), norm: { step, _ in
                explodes && step >= 4 ? .nan : nil
            })
        }
        let (status, html) = try await reportCommand([folder.path, "-o", "-"])
        #expect(status == ExitStatus.found)
        #expect(html.utf8.count < 1_000_000, "\(html.utf8.count) bytes")
        let body = try #require(Self.between(html, "<tbody>", "</tbody>"))
        #expect(Self.count("<tr>", in: body) == 1_000)
        #expect(Self.count("<details class=\"run\"", in: html) == 10)
        #expect(html.contains("1000 runs: with more than 200, healthy runs are listed in the table only"))
        // The ten alerting runs lead the table.
        let rows = body.components(separatedBy: "<tr>").dropFirst()
        #expect(rows.prefix(10).allSatisfy { $0.contains("v-nonfinite") })

        let (_, markdown) = try await reportCommand([folder.path, "--format", "markdown", "-o", "-"])
        #expect(markdown.utf8.count < 20_000)
        #expect(markdown.contains("990 more runs are not listed (990 healthy in all)."))
    }

    /// The Markdown summary: the table (a row per run) and every incident's headline and advice.
    @Test func markdownSummary() async throws {
        let (status, markdown) = try await reportCommand([Self.training, "--format", "markdown"])
        #expect(status == ExitStatus.found)
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "## gradalert report")
        #expect(lines.contains("| run | verdict | incidents | first incident | origin layer | peak global norm | final loss |"))
        #expect(lines.filter { $0.hasPrefix("| ") }.count == 2 + 17)  // header, alignment row, a row per run
        #expect(markdown.contains("| exploding/bad\\_init | ✗ nonfinite | 1 | 0 | layer8/kernel\\_norm |"))
        #expect(markdown.contains("### Incidents"))
        let scanned = await LogScanner(classifier: try TagClassifier(), configuration: DetectorConfiguration())
            .scan(runs: try RunDiscovery.runs(under: [Self.training])).reports
        for entry in scanned.flatMap(\.incidents) {
            #expect(markdown.contains(MarkdownText.escape(entry.incident.headline)))
            if let advice = entry.incident.advice() { #expect(markdown.contains(MarkdownText.escape(advice))) }
        }
        #expect(!markdown.contains("<"))
    }

    @Test func outputFileAndExitStatus() async throws {
        let folder = try TemporaryDirectory()
        let file = folder.path + "/report.html"
        let (status, said) = try await reportCommand([Self.training + "/healthy", "-o", file])
        #expect(status == ExitStatus.success)
        #expect(said.hasPrefix("gradalert report: 8 runs: 8 healthy; wrote \(file) ("))
        let written = try String(contentsOfFile: file, encoding: .utf8)
        #expect(written.contains("<svg class=\"chart norm\""))
        #expect(try await reportCommand([Self.training, "-o", file, "--fail-on", "never"]).status == ExitStatus.success)
        #expect(try await reportCommand([Self.training, "-o", file, "--fail-on", "critical"]).status == ExitStatus.found)
        #expect(try await reportCommand(["/nonexistent/logs", "-o", file]).status == ExitStatus.usage)
        #expect(try await reportCommand([Self.training, "-o", folder.path + "/missing/dir/report.html"]).status == ExitStatus.usage)
        #expect(throws: (any Error).self) { _ = try Report.parse([Self.training, "--format", "pdf"]) }
    }

    @Test func escaping() {
        #expect(HTMLText.escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(HTMLText.escape("tab\tnew\nnul\u{0}") == "tab\tnew\nnul\u{FFFD}")
        #expect(MarkdownText.escape("a|b_c*d`e[f]\\g\nh<i>&$") == "a\\|b\\_c\\*d\\`e\\[f\\]\\\\g h&lt;i&gt;&amp;\\$")
    }

    // MARK: - Reading the page

    static func count(_ needle: String, in haystack: String) -> Int {
        haystack.components(separatedBy: needle).count - 1
    }

    static func between(_ text: String, _ start: String, _ end: String) -> String? {
        guard let from = text.range(of: start), let to = text.range(of: end, range: from.upperBound..<text.endIndex) else { return nil }
        return String(text[from.upperBound..<to.lowerBound])
    }

    /// The first `<svg…` element starting with `prefix`, up to its `</svg>` (the page's SVGs do
    /// not nest).
    static func svg(_ html: String, _ prefix: String) -> String? {
        guard let start = html.range(of: prefix), let end = html.range(of: "</svg>", range: start.lowerBound..<html.endIndex) else { return nil }
        return String(html[start.lowerBound..<end.upperBound])
    }

    /// The start tag beginning with `prefix` (up to its closing `>`).
    static func element(_ html: String, _ prefix: String) -> String? {
        guard let start = html.range(of: prefix), let end = html.range(of: ">", range: start.upperBound..<html.endIndex) else { return nil }
        return String(html[start.lowerBound..<end.upperBound])
    }

    /// The run's section: from its `<details>` to the next `</details>`.
    static func section(_ html: String, run: String, in reports: [RunReport]) -> String? {
        guard let index = try? RunDiscovery.runs(under: [training]).firstIndex(where: { $0.name == run }) else { return nil }
        return between(html, "<details class=\"run\" id=\"run-\(index)\"", "</details>")
    }

    static func attribute(_ name: String, of element: String) -> String? {
        between(element, " \(name)=\"", "\"")
    }

    /// The points of an SVG path made of M, L (two numbers each) and h0 (a dot: no new point).
    static func vertices(_ d: String) -> [(x: Double, y: Double)] {
        var points: [(x: Double, y: Double)] = []
        var numbers: [Double] = []
        var command: Character = " "
        var token = ""
        func endToken() {
            if let number = Double(token) { numbers.append(number) }
            token = ""
        }
        func endCommand() {
            endToken()
            if command == "M" || command == "L", numbers.count == 2 { points.append((numbers[0], numbers[1])) }
            numbers = []
        }
        for character in d {
            if character.isLetter {
                endCommand()
                command = character
            } else if character == " " {
                endToken()
            } else if character == "-" && !token.isEmpty {
                endToken()
                token.append(character)
            } else {
                token.append(character)
            }
        }
        endCommand()
        return points
    }
}

/// A chart's scales, read back from its `data-x` and `data-y` attributes.
struct ChartScale {
    var first, last, left, right: Double
    var logarithmic: Bool
    var low, high, bottom, top: Double

    struct Missing: Error {}

    init(_ svg: String) throws {
        guard let start = ReportTests.element(svg, "<svg") else { throw Missing() }
        let x = (ReportTests.attribute("data-x", of: start) ?? "").split(separator: " ").compactMap { Double($0) }
        let y = (ReportTests.attribute("data-y", of: start) ?? "").split(separator: " ")
        let numbers = y.dropFirst().compactMap { Double($0) }
        guard x.count == 4, y.count == 5, numbers.count == 4 else { throw Missing() }
        first = x[0]
        last = x[1]
        left = x[2]
        right = x[3]
        logarithmic = y[0] == "log"
        low = numbers[0]
        high = numbers[1]
        bottom = numbers[2]
        top = numbers[3]
    }

    func x(_ step: Double) -> Double { left + (step - first) / (last - first) * (right - left) }

    func y(_ value: Double) -> Double {
        let position = logarithmic ? log10(value) : value
        return bottom - (position - low) / (high - low) * (bottom - top)
    }
}
