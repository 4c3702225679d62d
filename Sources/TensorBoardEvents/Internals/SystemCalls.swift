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

/// What a directory entry is, as far as finding runs needs to know.
enum DirectoryEntryKind {
    case directory
    /// A regular file or a symbolic link (to a file, as run discovery takes it: links to
    /// directories are not followed).
    case fileOrLink
    case other
}

/// The names in a directory and what each is, from one pass of readdir (no stat per entry, except
/// for the rare file system that does not say the type); nil if it cannot be opened.
func directoryEntries(_ path: String) -> [(name: String, kind: DirectoryEntryKind)]? {
    guard let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var entries: [(String, DirectoryEntryKind)] = []
    while let entry = readdir(directory) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name == "." || name == ".." { continue }
        let kind: DirectoryEntryKind
        switch Int32(entry.pointee.d_type) {
        case Int32(DT_DIR): kind = .directory
        case Int32(DT_REG), Int32(DT_LNK): kind = .fileOrLink
        case Int32(DT_UNKNOWN):
            var info = stat()
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            guard lstat(full, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: kind = .directory
            case S_IFREG, S_IFLNK: kind = .fileOrLink
            default: kind = .other
            }
        default: kind = .other
        }
        entries.append((name, kind))
    }
    return entries
}

/// Creates `path` and its missing parents (mode 0777, less the umask), as `mkdir -p` does.
/// Returns nil on success, else the errno and the path that could not be made: ENOTDIR when a
/// component exists but is a file, ENOENT for an empty path.
func makeDirectories(_ path: String) -> (code: Int32, at: String)? {
    guard !path.isEmpty else { return (ENOENT, path) }
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
        prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
        if mkdir(prefix, 0o777) == 0 { continue }
        let code = errno
        var status = stat()
        if stat(prefix, &status) == 0 {
            if status.st_mode & S_IFMT == S_IFDIR { continue }
            return (ENOTDIR, prefix)
        }
        return (code, prefix)
    }
    return nil
}
