/// Exit codes shared by the commands.
package enum ExitStatus {
    /// Everything was read and nothing is wrong.
    package static let success: Int32 = 0
    /// The command found something: damage in a file (inspect), an alert (scan).
    package static let found: Int32 = 1
    /// Usage error, or no readable event file.
    package static let usage: Int32 = 2
}
