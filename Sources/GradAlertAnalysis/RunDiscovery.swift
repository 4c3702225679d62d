import Foundation
import TensorBoardEvents

/// A run found under a path the user gave, named for people.
public struct DiscoveredRun: Sendable, Equatable {
    /// The run's name: its folder relative to the path given (prefixed with that path's last
    /// component when several paths are given); a path that is itself a run is named after its
    /// folder, and an event file given on its own is a run named after the file.
    public var name: String
    /// Its event files, in name order.
    public var files: [String]

    public init(name: String, files: [String]) {
        self.name = name
        self.files = files
    }
}

/// Finds the runs under the paths given on a command line (what scan, watch, export, report and
/// the demo share), with `LogDirectory`'s rules for what a run is.
public enum RunDiscovery {
    public static func runs(under paths: [String]) throws(LogDirectory.Error) -> [DiscoveredRun] {
        var runs: [DiscoveredRun] = []
        for path in paths {
            for run in try LogDirectory.runs(in: path) {
                var name = run.name
                if name == "." {
                    // The path is itself a run: name it after its folder.
                    var isDirectory: ObjCBool = false
                    _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                    let folder = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
                    name = (((folder as NSString).standardizingPath) as NSString).lastPathComponent
                } else if paths.count > 1 {
                    name = (path as NSString).lastPathComponent + "/" + name
                }
                runs.append(DiscoveredRun(name: name, files: run.files))
            }
        }
        return runs
    }
}
