#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How gradalert writes numbers for people (alert messages, tables, Markdown): one place, so the
/// same value reads the same in the terminal, in TensorBoard's Text tab and in the demo table.
package enum NumberFormat {
    /// Three significant digits, scientific where that is shorter (`3.1e5`, `0.0412`, `12.5`);
    /// NaN, Inf and -Inf spelled out.
    package static func short(_ value: Double) -> String {
        if !value.isFinite { return value.isNaN ? "NaN" : (value > 0 ? "Inf" : "-Inf") }
        let magnitude = Swift.abs(value)
        if magnitude != 0 && (magnitude >= 1e5 || magnitude < 1e-3) {
            var exponent = Int(floor(log10(magnitude)))
            var mantissa = value / pow(10, Double(exponent))
            // 9.996e4 rounds to 10.0: carry into the exponent.
            if Swift.abs((mantissa * 100).rounded() / 100) >= 10 {
                exponent += 1
                mantissa /= 10
            }
            return "\(significant(mantissa))e\(exponent)"
        }
        return significant(value)
    }

    /// `value` with `decimals` digits after the point, trailing zeros kept (`2.50`).
    package static func fixed(_ value: Double, decimals: Int) -> String {
        if !value.isFinite { return short(value) }
        let scale = pow(10, Double(decimals))
        let rounded = (value * scale).rounded() / scale
        var text = String(Int64(rounded.rounded(.towardZero)))
        if rounded < 0, text == "0" { text = "-0" }
        guard decimals > 0 else { return text }
        let fraction = Int64((Swift.abs(rounded) * scale).rounded()) % Int64(scale)
        let digits = String(fraction)
        return text + "." + String(repeating: "0", count: decimals - digits.count) + digits
    }

    /// Three significant digits, without trailing zeros.
    private static func significant(_ value: Double) -> String {
        let magnitude = Swift.abs(value)
        guard magnitude > 0 else { return "0" }
        let decimals = max(0, 2 - Int(floor(log10(magnitude))))
        let scale = pow(10, Double(decimals))
        let rounded = (value * scale).rounded() / scale
        if decimals == 0 { return String(Int(rounded)) }
        var text = String(rounded)
        if text.contains("e") { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
