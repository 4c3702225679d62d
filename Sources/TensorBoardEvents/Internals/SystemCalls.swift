#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The system calls the module makes, in one place: reading at an offset, closing, sizes, the clock.

/// Seconds since the Unix epoch, from the real-time clock (the wall time events carry).
package enum WallClock {
    package static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}

/// Reads up to `count` bytes at `offset` (retrying short reads and EINTR); returns how many were
/// read, fewer at the end of the file or on an error.
func preadFully(_ descriptor: Int32, into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) -> Int {
    var loaded = 0
    while loaded < count {
        let result = pread(descriptor, buffer + loaded, count - loaded, off_t(offset + loaded))
        if result < 0 {
            if errno == EINTR { continue }
            break
        }
        if result == 0 { break }
        loaded += result
    }
    return loaded
}

@inline(__always)
func closeDescriptor(_ descriptor: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.close(descriptor)
    #else
    Darwin.close(descriptor)
    #endif
}

/// The size of the file a descriptor is open on, or nil if it cannot be asked.
func fileSize(of descriptor: Int32) -> Int? {
    var info = stat()
    return fstat(descriptor, &info) == 0 ? Int(info.st_size) : nil
}

/// The size of the file at `path`, following symbolic links, or nil if there is none.
func fileSize(atPath path: String) -> Int? {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : nil
}
