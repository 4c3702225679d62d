import ArgumentParser

/// The `gradalert` command. The executable target only calls `GradAlert.main()`; everything lives
/// here so tests can run commands in-process.
public struct GradAlert: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "gradalert",
        abstract: "Find exploding gradients in TensorBoard logs, and read and check event files.",
        discussion: """
            Reads event files written by TensorFlow, PyTorch, tensorboardX, Keras, JAX or gradalert.

            Examples:
              gradalert inspect runs/exp1                 every record of every event file in a run
              gradalert inspect events.out.tfevents.* --format json
            """,
        version: version,
        subcommands: [Inspect.self]
    )

    public init() {}
}

/// Exit codes shared by the commands.
public enum ExitStatus {
    /// Everything was read and nothing is wrong.
    public static let success: Int32 = 0
    /// The command found something: damage in a file (inspect), an alert (scan).
    public static let found: Int32 = 1
    /// Usage error, or no readable event file.
    public static let usage: Int32 = 2
}
