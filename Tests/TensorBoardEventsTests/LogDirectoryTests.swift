import Foundation
import GradAlertTestSupport
import Testing

@testable import TensorBoardEvents

@Suite struct LogDirectoryTests {
    @Test func findsRunsLikeTensorBoard() throws {
        let directory = try TemporaryDirectory()
        let root = directory.path
        let make = { (path: String) in
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: path, contents: Data())
        }
        try make(root + "/events.out.tfevents.1.host")  // the root itself is a run: "."
        try make(root + "/b/events.out.tfevents.2.host.1.1")
        try make(root + "/b/events.out.tfevents.1.host.1.0")
        try make(root + "/a/deep/er/events.out.tfevents.5.h")
        try make(root + "/c/events.out.tfevents.9.h.profile-empty")  // skipped
        try make(root + "/c/notes.txt")
        try make(root + "/a/x.tfevents.json")  // "tfevents" in the name: TensorBoard reads it too

        let runs = try LogDirectory.runs(in: root)
        #expect(runs.map(\.name) == [".", "a", "a/deep/er", "b"])
        #expect(runs[3].files.map { ($0 as NSString).lastPathComponent } == ["events.out.tfevents.1.host.1.0", "events.out.tfevents.2.host.1.1"])
        #expect(runs[1].files.count == 1)
    }

    /// `gzip -k` leaves the original beside the copy: the run reads it once, uncompressed; a gzip
    /// file on its own, and a compressed copy in another folder, are read.
    @Test func aGzipCopyBesideItsOriginalIsSkipped() throws {
        let directory = try TemporaryDirectory()
        let root = directory.path
        try FileManager.default.createDirectory(atPath: root + "/run", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/archive", withIntermediateDirectories: true)
        for name in ["run/events.out.tfevents.1.h", "run/events.out.tfevents.1.h.gz", "run/events.out.tfevents.2.h.gz",
                     "archive/events.out.tfevents.1.h.gz"] {
            _ = FileManager.default.createFile(atPath: root + "/" + name, contents: Data())
        }
        let runs = try LogDirectory.runs(in: root)
        #expect(runs.map(\.name) == ["archive", "run"])
        #expect(runs[0].files.map { ($0 as NSString).lastPathComponent } == ["events.out.tfevents.1.h.gz"])
        #expect(runs[1].files.map { ($0 as NSString).lastPathComponent } == ["events.out.tfevents.1.h", "events.out.tfevents.2.h.gz"])
    }

    /// A dangling link in place of the original does not hide the compressed copy.
    @Test func aGzipCopyBesideADanglingLinkIsRead() throws {
        let directory = try TemporaryDirectory()
        let root = directory.path
        try FileManager.default.createSymbolicLink(atPath: root + "/events.out.tfevents.1.h", withDestinationPath: root + "/gone")
        _ = FileManager.default.createFile(atPath: root + "/events.out.tfevents.1.h.gz", contents: Data())
        let runs = try LogDirectory.runs(in: root)
        #expect(runs.first?.files.map { ($0 as NSString).lastPathComponent } == ["events.out.tfevents.1.h", "events.out.tfevents.1.h.gz"])
    }

    @Test func aFileIsARunOfOneFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/events.out.tfevents.1.h"
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        let runs = try LogDirectory.runs(in: path)
        #expect(runs.count == 1)
        #expect(runs.first?.files == [path])
    }

    @Test func missingPathIsAnError() {
        #expect(throws: LogDirectory.Error.notFound("/nonexistent/logs")) {
            try LogDirectory.runs(in: "/nonexistent/logs")
        }
    }
}
