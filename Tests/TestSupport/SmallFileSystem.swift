import Foundation

/// A real, small file system (a tmpfs mounted for the test, unmounted when the last reference
/// goes), for the disk-full tests. Mounting needs root: `init` returns nil when it fails, and the
/// caller says so (`withKnownIssue`) rather than pass silently.
public final class SmallFileSystem: @unchecked Sendable {
    public let path: String
    private let directory: TemporaryDirectory

    public init?(kilobytes: Int) throws {
        directory = try TemporaryDirectory("gradalert-tmpfs")
        path = directory.path + "/small"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path]
        mount.standardError = Pipe()
        do { try mount.run() } catch { return nil }
        mount.waitUntilExit()
        guard mount.terminationReason == .exit, mount.terminationStatus == 0 else { return nil }
    }

    /// Fills all but `leaving` bytes with a file (`filler`), so that space can be given back later.
    public func fill(leaving: Int) throws {
        let attributes = try FileManager.default.attributesOfFileSystem(forPath: path)
        let free = (attributes[.systemFreeSize] as? NSNumber)?.intValue ?? 0
        let size = max(0, free - leaving)
        _ = FileManager.default.createFile(atPath: filler, contents: Data(count: size))
    }

    /// Gives the space `fill` took back.
    public func free() throws { try FileManager.default.removeItem(atPath: filler) }

    private var filler: String { path + "/filler" }

    deinit {
        let unmount = Process()
        unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
        unmount.arguments = ["-l", path]
        try? unmount.run()
        unmount.waitUntilExit()
    }
}
