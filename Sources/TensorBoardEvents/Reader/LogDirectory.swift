import Foundation

/// Finds runs the way TensorBoard does: a run is a directory that directly holds files whose name
/// contains `tfevents` (names ending `.profile-empty` are skipped), found recursively; its files are
/// read in name order (a run may hold several: restarts, data-parallel ranks). A gzip copy
/// (`NAME.gz`) beside a readable uncompressed original is skipped.
public enum LogDirectory {
    public struct Run: Sendable, Equatable {
        /// The run's path relative to the directory searched, "/"-separated; "." for that directory.
        public var name: String
        /// The run directory's path.
        public var path: String
        /// Full paths of its event files, in name order.
        public var files: [String]
    }

    public enum Error: LocalizedError, Equatable, CustomStringConvertible {
        case notFound(String)

        public var description: String {
            switch self {
            case .notFound(let path): "\(path): no such file or directory"
            }
        }

        public var errorDescription: String? { description }
    }

    /// A file's size in bytes, following symbolic links (0 if it cannot be read).
    public static func fileSize(_ path: String) -> Int {
        TensorBoardEvents.fileSize(atPath: path) ?? 0
    }

    /// True for names TensorBoard treats as event files.
    public static func isEventFileName(_ name: String) -> Bool {
        // On the UTF-8 bytes: a logdir of thousands of runs is listed every poll.
        let bytes = name.utf8
        let marker = "tfevents".utf8
        guard bytes.count >= marker.count, !name.hasSuffix(".profile-empty") else { return false }
        var start = bytes.startIndex
        while bytes.distance(from: start, to: bytes.endIndex) >= marker.count {
            if bytes[start...].starts(with: marker) { return true }
            start = bytes.index(after: start)
        }
        return false
    }

    /// The runs under `path`, sorted by name. A path naming a file is a run of that one file.
    /// Symbolic links to directories are not followed (they could make a cycle).
    public static func runs(in path: String) throws(Error) -> [Run] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .notFound(path) }
        guard isDirectory.boolValue else {
            let name = (path as NSString).lastPathComponent
            return [Run(name: name, path: path, files: [path])]
        }
        var runs: [Run] = []
        collect(directory: path, relative: "", into: &runs)
        return runs.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    private static func collect(directory: String, relative: String, into runs: inout [Run]) {
        // One readdir pass, no stat per entry: following a logdir of thousands of runs lists it
        // every poll.
        guard let entries = directoryEntries(directory) else { return }
        var files: [String] = []
        var subdirectories: [String] = []
        for (name, kind) in entries {
            switch kind {
            case .directory: subdirectories.append(name)
            case .fileOrLink where isEventFileName(name):
                files.append(directory.hasSuffix("/") ? directory + name : directory + "/" + name)
            default: break
            }
        }
        // `gzip -k` leaves the original beside its copy: read it once, from the uncompressed file
        // (two copies read as two writers would double every alert).
        // Only when the original can be read: a dangling link must not hide the copy.
        let present = Set(files)
        files.removeAll { file in
            guard file.hasSuffix(".gz") else { return false }
            let original = String(file.dropLast(3))
            return present.contains(original) && FileManager.default.isReadableFile(atPath: original)
        }
        if !files.isEmpty {
            files.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            runs.append(Run(name: relative.isEmpty ? "." : relative, path: directory, files: files))
        }
        for name in subdirectories {
            let full = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            collect(directory: full, relative: relative.isEmpty ? name : relative + "/" + name, into: &runs)
        }
    }
}
