import Foundation

/// Buffered standard output (print() per line is slow for millions of records).
struct StandardOutput: TextOutputStream {
    private var buffer = ""

    mutating func write(_ string: String) {
        buffer += string
        if buffer.utf8.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer.utf8))
        buffer = ""
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// A message on standard error without a newline (progress that rewrites its line).
func printErrorInline(_ message: String) {
    FileHandle.standardError.write(Data(message.utf8))
}
