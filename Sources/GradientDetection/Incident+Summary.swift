/// An incident in words, for people: one line that says what happened, where, since when and
/// which layer went first; one with the peak; one with what to try. Scan, watch, the monitor's
/// TensorBoard text and the report all say it the same way.
extension Incident {
    /// "gradients became +Inf at step 121 in 10 layers, first layers.0.weight; the loss jumped
    /// 1e22x at the same step"
    public var headline: String {
        var text = what
        let layers = layerCount
        if layers > 0 { text += " in \(layers) layer\(layers == 1 ? "" : "s")" }
        if let layer = originLayer { text += ", first \(layer)" }
        if let loss = lossPart { text += "; " + loss }
        return text
    }

    /// "steps 69–80; peak grad_norm/global 3.4e5; up to 1.2e4x the baseline; nonfinite, spike; 24 alerts"
    public var detail: String {
        var parts: [String] = []
        if let closingStep {
            parts.append(closingStep == openingStep ? "step \(openingStep)" : "steps \(openingStep)–\(closingStep)")
        } else {
            parts.append("open since step \(openingStep)")
        }
        if let peakValue, let peakSeries {
            parts.append("peak \(peakSeries) \(NumberFormat.short(peakValue))")
        }
        if let peakRatio {
            parts.append("up to \(NumberFormat.short(peakRatio))x the baseline")
        }
        parts.append(kinds.map(\.rawValue).joined(separator: ", "))
        parts.append("\(alerts.count) alert\(alerts.count == 1 ? "" : "s")")
        return parts.joined(separator: "; ")
    }

    /// "try: lower the learning rate …; clip gradients …" (the first `count` remedies).
    public func advice(_ count: Int = 3) -> String? {
        remedies.isEmpty ? nil : "try: " + remedies.prefix(count).map(\.advice).joined(separator: "; ")
    }

    /// The most serious thing the gradients did, in words, with its step (what the loss did, when
    /// only the loss alerted).
    private var what: String {
        let gradient = alerts.filter { $0.role.isGradient }
        if let broken = gradient.first(where: { $0.kind == .nonfinite }) {
            return "gradients became \(Self.spell(broken.value)) at step \(broken.step)"
        }
        if let spike = gradient.first(where: { $0.kind == .spike }) {
            guard spike.baseline != nil, let ratio = spike.ratio else {
                return "gradients reached an absurd scale at step \(spike.step) (\(spike.series) = \(NumberFormat.short(spike.value)))"
            }
            return "the gradient norm jumped \(NumberFormat.short(ratio))x its recent level at step \(spike.step)"
        }
        if let cliffs = gradient.first(where: { $0.kind == .cliffs }) {
            return "the gradient norm keeps jumping far over its usual level (\(NumberFormat.short(cliffs.ratio ?? 0))x at step \(cliffs.step): repeated cliffs)"
        }
        if let growth = gradient.first(where: { $0.kind == .growth }) {
            return "the gradient norm grew \(NumberFormat.short(growth.ratio ?? 0))x steadily up to step \(growth.step)"
        }
        if let bound = gradient.first(where: { $0.kind == .threshold && $0.severity == .critical })
            ?? gradient.first(where: { $0.kind == .threshold }) {
            return "the gradient norm passed the \(bound.severity.rawValue) bound \(NumberFormat.short(bound.baseline ?? bound.value)) at step \(bound.step)"
        }
        if let collapse = gradient.first(where: { $0.kind == .collapse }) {
            return "gradients collapsed at step \(collapse.step) (far under their usual level, the loss stuck)"
        }
        if let vanishing = gradient.first(where: { $0.kind == .vanishing }) {
            return "gradients vanished at step \(vanishing.step)"
        }
        // Only a loss alerted: what it came to (NaN over a jump), when.
        guard let loss = alerts.first(where: { $0.kind == .nonfinite }) ?? alerts.first else { return "an incident at step \(openingStep)" }
        return lossWords(loss) + " at step \(loss.step)"
    }

    /// What the loss did, when the loss alerted and a gradient did too.
    private var lossPart: String? {
        guard alerts.contains(where: { $0.role.isGradient }),
            let loss = alerts.first(where: { $0.role == .loss && $0.kind == .nonfinite }) ?? alerts.first(where: { $0.role == .loss })
        else { return nil }
        let firstGradient = alerts.first { $0.role.isGradient }?.step ?? loss.step
        if loss.step == firstGradient { return lossWords(loss) + " at the same step" }
        if loss.step < firstGradient { return lossWords(loss) + " first, at step \(loss.step)" }
        return lossWords(loss) + " at step \(loss.step)"
    }

    private func lossWords(_ loss: Alert) -> String {
        loss.kind == .nonfinite ? "the loss became \(Self.spell(loss.value))" : "the loss jumped \(NumberFormat.short(loss.ratio ?? 0))x"
    }

    private static func spell(_ value: Double) -> String {
        value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf")
    }
}
