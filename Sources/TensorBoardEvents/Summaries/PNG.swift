import CGradAlertZlib
import Foundation

/// A minimal PNG encoder for image summaries: 8-bit RGB or RGBA, no interlacing, filter 0 on every
/// row, the image data deflated by zlib and every chunk checked with zlib's CRC-32 (the IEEE
/// polynomial is the right one here, unlike in TFRecord framing).
public enum PNG {
    public enum Error: LocalizedError, Equatable, CustomStringConvertible {
        case badDimensions(width: Int, height: Int, channels: Int, bytes: Int)
        case compressionFailed(code: Int32)

        public var description: String {
            switch self {
            case .badDimensions(let width, let height, let channels, let bytes):
                "image of \(width)×\(height) with \(channels) channels needs \(width * height * channels) bytes, got \(bytes)"
            case .compressionFailed(let code): "zlib compress2 failed with code \(code)"
            }
        }

        public var errorDescription: String? { description }
    }

    /// Encodes `pixels` (row-major, `channels` bytes a pixel: 3 for RGB, 4 for RGBA).
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int = 4) throws(Error) -> [UInt8] {
        guard width > 0, height > 0, width <= 1 << 24, height <= 1 << 24, channels == 3 || channels == 4,
            pixels.count == width * height * channels
        else { throw .badDimensions(width: width, height: height, channels: channels, bytes: pixels.count) }

        // Each row is preceded by its filter type, 0 (None).
        let rowBytes = width * channels
        var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * height)
        raw.withUnsafeMutableBufferPointer { destination in
            pixels.withUnsafeBufferPointer { source in
                for row in 0..<height {
                    let target = destination.baseAddress! + row * (rowBytes + 1) + 1
                    target.update(from: source.baseAddress! + row * rowBytes, count: rowBytes)
                }
            }
        }
        let compressed = try deflate(raw)

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        appendBigEndian(UInt32(width), to: &header)
        appendBigEndian(UInt32(height), to: &header)
        header += [8, channels == 4 ? 6 : 2, 0, 0, 0]  // bit depth, colour type, compression, filter, interlace
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", compressed, to: &png)
        appendChunk("IEND", [], to: &png)
        return png
    }

    private static func deflate(_ input: [UInt8]) throws(Error) -> [UInt8] {
        var capacity = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBufferPointer { destination in
            input.withUnsafeBufferPointer { source in
                compress2(destination.baseAddress, &capacity, source.baseAddress, uLong(source.count), 6)
            }
        }
        guard status == Z_OK else { throw .compressionFailed(code: status) }
        output.removeSubrange(Int(capacity)...)
        return output
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        appendBigEndian(UInt32(data.count), to: &png)
        let typeBytes = Array(type.utf8)
        var crc = typeBytes.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        crc = data.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
        png += typeBytes
        png += data
        appendBigEndian(UInt32(crc), to: &png)
    }

    private static func appendBigEndian(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
    }
}
