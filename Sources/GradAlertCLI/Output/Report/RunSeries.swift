import GradientDetection

/// What the report draws of one run, collected from the points the detector is given
/// (`RunAnalyzer.pointSink`) while the run is scanned, and downsampled as they arrive, so memory
/// stays bounded however long the run:
/// - the global gradient norm: the run's first series with that role (logged, or computed from
///   the layers: `StepAssembler.derivedGlobalName`), one line per writer and segment;
/// - its first per-layer norm series too, drawn instead when the run has no global norm;
/// - the loss: its first loss series;
/// - every per-layer norm of the first writer, for the heatmap (up to `maxLayers`).
/// At most `maxStreams` writers (data-parallel ranks) are kept.
final class RunSeries {
    /// A line of a chart: a writer's values in one segment.
    struct LineKey: Hashable, Comparable {
        var stream: Int
        var segment: Int

        static func < (a: LineKey, b: LineKey) -> Bool { (a.stream, a.segment) < (b.stream, b.segment) }
    }

    static let maxStreams = 4
    static let maxLayers = 256
    /// Twice the plot's width: a bucket never spans more than one pixel column.
    static let lineCapacity = 2 * ChartLayout.plotWidth
    static let heatmapCapacity = 2 * ChartLayout.heatmapColumns

    private(set) var globalName: String?
    private(set) var firstLayerName: String?
    private(set) var lossName: String?
    private(set) var global: [LineKey: StepBuckets] = [:]
    private(set) var firstLayer: [LineKey: StepBuckets] = [:]
    private(set) var loss: [LineKey: StepBuckets] = [:]
    /// Per-layer norm series of the first writer, in the order they first had a value.
    private(set) var layerNames: [String] = []
    private(set) var layers: [String: StepBuckets] = [:]
    /// Layers beyond `maxLayers`, not kept.
    private(set) var layersLeftOut: Set<String> = []
    /// Whether the run had more writers than `maxStreams`.
    private(set) var streamsLeftOut = false
    /// The smallest and largest step of anything kept.
    private(set) var firstStep: Int64?
    private(set) var lastStep: Int64?
    /// The first writer's last loss value (the last segment's last step).
    private(set) var finalLoss: Double?
    private var finalLossAt: (segment: Int, step: Int64)?

    init() {}

    func add(_ point: StepAssembler.Point, stream: Int) {
        guard stream < Self.maxStreams else {
            streamsLeftOut = true
            return
        }
        let key = LineKey(stream: stream, segment: point.segment)
        switch point.role {
        case .globalGradientNorm:
            if globalName == nil { globalName = point.series }
            guard point.series == globalName else { return }
            global[key, default: StepBuckets(capacity: Self.lineCapacity)].add(step: point.step, value: point.value)
        case .layerGradientNorm:
            if firstLayerName == nil { firstLayerName = point.series }
            if point.series == firstLayerName {
                firstLayer[key, default: StepBuckets(capacity: Self.lineCapacity)].add(step: point.step, value: point.value)
            }
            if stream == 0 { addLayer(point) }
        case .loss:
            if lossName == nil { lossName = point.series }
            guard point.series == lossName else { return }
            loss[key, default: StepBuckets(capacity: Self.lineCapacity)].add(step: point.step, value: point.value)
            if stream == 0, finalLossAt.map({ ($0.segment, $0.step) <= (point.segment, point.step) }) ?? true {
                finalLossAt = (point.segment, point.step)
                finalLoss = point.value
            }
        case .layerGradientMax, .clippedGradientNorm:
            return
        }
        firstStep = min(firstStep ?? point.step, point.step)
        lastStep = max(lastStep ?? point.step, point.step)
    }

    private func addLayer(_ point: StepAssembler.Point) {
        if layers[point.series] == nil {
            guard layers.count < Self.maxLayers else {
                layersLeftOut.insert(point.series)
                return
            }
            layerNames.append(point.series)
        }
        layers[point.series, default: StepBuckets(capacity: Self.heatmapCapacity)].add(step: point.step, value: point.value)
    }

    // MARK: - What is drawn

    /// The lines of the gradient-norm chart and their series: the global norm, or else the
    /// first layer's norm.
    var gradientLines: (series: String, isGlobal: Bool, lines: [LineKey: StepBuckets])? {
        if let globalName, !global.isEmpty { return (globalName, true, global) }
        if let firstLayerName, !firstLayer.isEmpty { return (firstLayerName, false, firstLayer) }
        return nil
    }

    /// The largest finite value of the gradient-norm chart's series, and its non-finite kinds
    /// (the summary table's "peak global norm").
    var gradientPeak: (value: Double?, nonfinite: NonfiniteKinds) {
        guard let lines = gradientLines?.lines.values else { return (nil, []) }
        var peak: Double?
        var kinds = NonfiniteKinds()
        for line in lines {
            if let range = line.finiteRange(positive: false) { peak = max(peak ?? range.high, range.high) }
            kinds.formUnion(line.nonfinite)
        }
        return (peak, kinds)
    }
}
