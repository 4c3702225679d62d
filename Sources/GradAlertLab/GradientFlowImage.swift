#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The gradient-flow picture: one band per parameter (top to bottom in model order), one column
/// per step, colour from dark blue (small) through green to yellow and red (large) on log10 of
/// the norm; NaN/Inf in magenta.
enum GradientFlowImage {
    static func render(norms: [[Double]], rows: Int) -> (pixels: [UInt8], width: Int, height: Int) {
        let steps = max(norms.count, 1)
        // At least 240 pixels wide (a run that died after 10 steps gets wide columns) and at most
        // 400; bands at least 8 pixels high.
        let width = max(240, min(steps, 400))
        let band = max(8, 120 / max(rows, 1))
        let height = max(rows, 1) * band
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        for x in 0..<width {
            let step = min(steps - 1, x * steps / width)
            let column = step < norms.count ? norms[step] : []
            for row in 0..<rows {
                let value = row < column.count ? column[row] : .nan
                let colour = self.colour(value)
                for dy in 0..<band {
                    let offset = ((row * band + dy) * width + x) * 4
                    pixels[offset] = colour.0
                    pixels[offset + 1] = colour.1
                    pixels[offset + 2] = colour.2
                    pixels[offset + 3] = 255
                }
            }
        }
        return (pixels, width, height)
    }

    /// log10(norm) from −6 to +6 mapped onto a blue–green–yellow–red ramp.
    static func colour(_ norm: Double) -> (UInt8, UInt8, UInt8) {
        guard norm.isFinite else { return (255, 0, 255) }
        let t = max(0, min(1, (log10(max(norm, 1e-12)) + 6) / 12))
        let stops: [(Double, Double, Double)] = [(0.07, 0.05, 0.35), (0.0, 0.45, 0.70), (0.15, 0.70, 0.35), (0.95, 0.85, 0.15), (0.85, 0.10, 0.10)]
        let position = t * Double(stops.count - 1)
        let index = min(Int(position), stops.count - 2)
        let f = position - Double(index)
        let a = stops[index], b = stops[index + 1]
        return (UInt8((a.0 + (b.0 - a.0) * f) * 255), UInt8((a.1 + (b.1 - a.1) * f) * 255), UInt8((a.2 + (b.2 - a.2) * f) * 255))
    }
}
