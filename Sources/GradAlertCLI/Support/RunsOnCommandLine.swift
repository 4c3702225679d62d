import GradAlertAnalysis
import TensorBoardEvents

/// The runs under the paths a command was given, or nil after saying on standard error why there
/// are none (a path that does not exist, or no event files): the command then exits 2.
func runsOrUsageError(under paths: [String], command: String) -> [DiscoveredRun]? {
    let runs: [DiscoveredRun]
    do {
        runs = try RunDiscovery.runs(under: paths)
    } catch {
        printError("gradalert \(command): \(error)")
        return nil
    }
    guard !runs.isEmpty else {
        printError("gradalert \(command): no event files (names containing \"tfevents\") under \(paths.joined(separator: ", "))")
        return nil
    }
    return runs
}
