import CGradAlertZlib

/// gzip's format made by zlib (the library gzip(1) is built on): one member per part, so several
/// parts make a multi-member file, as `cat a.gz b.gz` does.
public func gzipped(_ parts: [[UInt8]], level: Int32 = 6) -> [UInt8] {
    var output: [UInt8] = []
    for part in parts {
        var stream = z_stream()
        // 16 + 15: a gzip wrapper around a 32 KiB window.
        precondition(CGradAlertZlib_deflateInit2(&stream, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK)
        var member = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(part.count))) + 64)
        var input = part
        let status = input.withUnsafeMutableBufferPointer { source in
            member.withUnsafeMutableBufferPointer { destination in
                stream.next_in = source.baseAddress
                stream.avail_in = uInt(source.count)
                stream.next_out = destination.baseAddress
                stream.avail_out = uInt(destination.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        precondition(status == Z_STREAM_END)
        output += member[0..<Int(stream.total_out)]
        deflateEnd(&stream)
    }
    return output
}
