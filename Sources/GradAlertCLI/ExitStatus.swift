/// Exit codes shared by the commands.
public enum ExitStatus {
    /// Everything was read and nothing is wrong.
    public static let success: Int32 = 0
    /// The command found something: damage in a file (inspect), an alert (scan).
    public static let found: Int32 = 1
    /// Usage error, or no readable event file.
    public static let usage: Int32 = 2
}
