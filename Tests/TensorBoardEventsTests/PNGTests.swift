import CGradAlertZlib
import Testing

@testable import TensorBoardEvents

/// The PNG encoder's output, taken apart again: signature, chunk CRCs (zlib's CRC-32), IHDR, and
/// the inflated image data equal to the filtered pixel rows.
@Suite struct PNGTests {
    @Test(arguments: [(3, 2, 4), (1, 1, 3), (17, 5, 4)])
    func encodesADecodablePNG(width: Int, height: Int, channels: Int) throws {
        let pixels = (0..<(width * height * channels)).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let png = try PNG.encode(pixels: pixels, width: width, height: height, channels: channels)
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var offset = 8
        var chunks: [(String, [UInt8])] = []
        while offset < png.count {
            let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16 | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
            let type = String(decoding: png[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let data = Array(png[(offset + 8)..<(offset + 8 + length)])
            let stored = png[(offset + 8 + length)..<(offset + 12 + length)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let computed = Array(png[(offset + 4)..<(offset + 8 + length)]).withUnsafeBufferPointer {
                UInt32(crc32(0, $0.baseAddress, uInt($0.count)))
            }
            #expect(stored == computed, "CRC of \(type)")
            chunks.append((type, data))
            offset += 12 + length
        }
        #expect(chunks.map(\.0) == ["IHDR", "IDAT", "IEND"])
        let header = chunks[0].1
        #expect(header[0..<4].reduce(0) { $0 << 8 | Int($1) } == width)
        #expect(header[4..<8].reduce(0) { $0 << 8 | Int($1) } == height)
        #expect(header[8] == 8 && header[9] == (channels == 4 ? 6 : 2))

        var inflated = [UInt8](repeating: 0, count: (width * channels + 1) * height)
        var size = uLongf(inflated.count)
        let status = chunks[1].1.withUnsafeBufferPointer { source in
            uncompress(&inflated, &size, source.baseAddress, uLong(source.count))
        }
        #expect(status == Z_OK)
        var expected: [UInt8] = []
        for row in 0..<height {
            expected.append(0)
            expected += pixels[(row * width * channels)..<((row + 1) * width * channels)]
        }
        #expect(inflated == expected)
    }

    @Test func wrongSizeIsAnError() {
        #expect(throws: PNG.Error.self) { try PNG.encode(pixels: [1, 2, 3], width: 2, height: 2) }
    }
}
