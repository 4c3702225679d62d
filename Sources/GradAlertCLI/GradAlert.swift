import ArgumentParser
import Foundation

/// The `gradalert` command. The executable target only calls `GradAlert.main()`; everything lives
/// here so tests can run commands in-process.
package struct GradAlert: AsyncParsableCommand {
    package static let version = "0.2.0"

    package static let configuration = CommandConfiguration(
        commandName: "gradalert",
        abstract: "Find exploding gradients in TensorBoard logs, and read and check event files.",
        discussion: """
            Reads event files written by TensorFlow, PyTorch, tensorboardX, Keras, JAX or gradalert.

            Examples:
              gradalert demo                 train networks that explode, and each remedy
              gradalert scan runs/           did anything explode, where, since when?
              gradalert report runs/         the same as one HTML page with charts
              gradalert watch runs/          alerts while training runs
              gradalert export runs/         the gradient and loss series, as CSV
              gradalert inspect runs/exp1    every record, every damaged spot
            """,
        version: version,
        subcommands: [Scan.self, Report.self, WatchCommand.self, Export.self, Inspect.self, Demo.self]
    )

    package init() {}

    /// Parses and runs, exiting 2 (not ArgumentParser's 64) on a usage error, as docs/cli.md says.
    package static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                exit(withError: ExitCode(ExitStatus.usage))
            }
            exit(withError: error)
        }
    }
}
