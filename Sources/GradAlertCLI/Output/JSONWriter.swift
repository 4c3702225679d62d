/// A small JSON emitter with the number rules gradalert's output documents: integers as integers,
/// doubles in their shortest round-trip form, and NaN/±Infinity (which JSON cannot spell) as the
/// strings "NaN", "Infinity" and "-Infinity".
package struct JSONWriter {
    package private(set) var output = ""
    private var needsComma: [Bool] = [false]

    package init() {}

    private mutating func separator() {
        if needsComma[needsComma.count - 1] { output += "," }
        needsComma[needsComma.count - 1] = true
    }

    package mutating func beginObject() {
        valuePrefix()
        output += "{"
        needsComma.append(false)
    }

    package mutating func endObject() {
        needsComma.removeLast()
        output += "}"
    }

    package mutating func beginArray() {
        valuePrefix()
        output += "["
        needsComma.append(false)
    }

    package mutating func endArray() {
        needsComma.removeLast()
        output += "]"
    }

    /// Writes a key; the next value call writes its value.
    package mutating func key(_ name: String) {
        separator()
        Self.appendString(name, to: &output)
        output += ":"
        pendingKey = true
    }

    private var pendingKey = false

    private mutating func valuePrefix() {
        if pendingKey {
            pendingKey = false
        } else {
            separator()
        }
    }

    package mutating func string(_ value: String) {
        valuePrefix()
        Self.appendString(value, to: &output)
    }

    package mutating func number(_ value: Double) {
        valuePrefix()
        output += Self.format(value)
    }

    package mutating func integer(_ value: Int64) {
        valuePrefix()
        output += String(value)
    }

    package mutating func bool(_ value: Bool) {
        valuePrefix()
        output += value ? "true" : "false"
    }

    package mutating func null() {
        valuePrefix()
        output += "null"
    }

    package mutating func field(_ name: String, _ value: String) {
        key(name)
        string(value)
    }

    package mutating func field(_ name: String, _ value: Double) {
        key(name)
        number(value)
    }

    package mutating func field(_ name: String, _ value: Int) {
        key(name)
        integer(Int64(value))
    }

    package mutating func field(_ name: String, _ value: Int64) {
        key(name)
        integer(value)
    }

    package mutating func field(_ name: String, _ value: Bool) {
        key(name)
        bool(value)
    }

    package mutating func field(_ name: String, numbers: [Double]) {
        key(name)
        beginArray()
        for value in numbers { number(value) }
        endArray()
    }

    /// A double as JSON: "NaN"/"Infinity"/"-Infinity" as strings, integral values without ".0"
    /// when exactly representable, otherwise Swift's shortest round-trip form.
    package static func format(_ value: Double) -> String {
        if value.isNaN { return "\"NaN\"" }
        if value.isInfinite { return value > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
        if value == 0 && value.sign == .minus { return "-0.0" }
        if value == value.rounded(), Swift.abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    package static func appendString(_ value: String, to output: inout String) {
        output += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
