import Foundation

/// A small JSON parser for the fixtures, shared by the test targets. Foundation's
/// JSONSerialization on Linux rounds some doubles (it read 0.10000000149011612 as another value),
/// and these tests compare bits, so numbers are parsed with `Double(String)`, which is exact.
public enum ExactJSON {
    public struct ParseError: Error { public var offset: Int }

    public static func parse(_ data: Data) throws -> Any {
        try parse([UInt8](data))
    }

    public static func parse(_ bytes: [UInt8]) throws -> Any {
        var parser = Parser(bytes: bytes)
        let value = try parser.value()
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func value() throws -> Any {
            skipSpace()
            guard index < bytes.count else { throw ParseError(offset: index) }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var object: [String: Any] = [:]
                skipSpace()
                if bytes[index] == UInt8(ascii: "}") { index += 1; return object }
                while true {
                    skipSpace()
                    let key = try string()
                    skipSpace()
                    guard bytes[index] == UInt8(ascii: ":") else { throw ParseError(offset: index) }
                    index += 1
                    object[key] = try value()
                    skipSpace()
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "}") else { throw ParseError(offset: index) }
                    index += 1
                    return object
                }
            case UInt8(ascii: "["):
                index += 1
                var array: [Any] = []
                skipSpace()
                if bytes[index] == UInt8(ascii: "]") { index += 1; return array }
                while true {
                    array.append(try value())
                    skipSpace()
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    guard bytes[index] == UInt8(ascii: "]") else { throw ParseError(offset: index) }
                    index += 1
                    return array
                }
            case UInt8(ascii: "\""): return try string()
            case UInt8(ascii: "t"): index += 4; return true
            case UInt8(ascii: "f"): index += 5; return false
            case UInt8(ascii: "n"): index += 4; return JSONNull()
            default:
                let start = index
                while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                if !text.contains(where: { ".eE".contains($0) }), let integer = Int(text) { return integer }
                guard let number = Double(text) else { throw ParseError(offset: start) }
                return number
            }
        }

        mutating func string() throws -> String {
            guard bytes[index] == UInt8(ascii: "\"") else { throw ParseError(offset: index) }
            index += 1
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flushRaw() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
            while bytes[index] != UInt8(ascii: "\"") {
                if bytes[index] == UInt8(ascii: "\\") {
                    flushRaw()
                    index += 1
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "b"): scalars.append("\u{8}")
                    case UInt8(ascii: "f"): scalars.append("\u{c}")
                    case UInt8(ascii: "u"):
                        var code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16) ?? 0
                        index += 4
                        if code >= 0xD800, code < 0xDC00, bytes[index] == UInt8(ascii: "\\") {
                            let low = UInt32(String(decoding: bytes[(index + 2)..<(index + 6)], as: UTF8.self), radix: 16) ?? 0
                            index += 6
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                    default: scalars.append(Unicode.Scalar(escape))
                    }
                } else {
                    raw.append(bytes[index])
                    index += 1
                }
            }
            flushRaw()
            index += 1
            return String(scalars)
        }
    }
}

/// JSON null.
public struct JSONNull {}
