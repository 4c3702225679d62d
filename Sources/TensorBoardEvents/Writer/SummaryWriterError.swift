#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Why a `SummaryWriter` could not do what it was asked, with the path it concerned.
public struct SummaryWriterError: LocalizedError, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The log directory could not be created.
        case cannotCreateDirectory
        /// The event file could not be created.
        case cannotOpenFile
        /// Writing buffered records failed (disk full, I/O error, file system gone read-only...).
        /// The records that reached the file whole are kept; the rest stay buffered for the next
        /// flush (at `close()`, they are lost; the message says how many). Nothing before them in
        /// the file is damaged.
        case writeFailed
        /// fsync failed after a write.
        case syncFailed
        /// The writer was closed.
        case closed
        /// Earlier writes failed and the buffer reached its limit: this record was not accepted.
        case bufferFull
        /// An image could not be encoded (wrong size for its dimensions).
        case badImage
    }

    public var kind: Kind
    public var path: String
    /// The `errno` of the failing call, or 0.
    public var code: Int32
    public var reason: String

    public init(_ kind: Kind, path: String, code: Int32 = 0, reason: String) {
        self.kind = kind
        self.path = path
        self.code = code
        self.reason = reason
    }

    static func system(_ kind: Kind, path: String, code: Int32, doing: String) -> SummaryWriterError {
        let text = String(cString: strerror(code))
        return SummaryWriterError(kind, path: path, code: code, reason: "\(doing): \(text) (errno \(code))")
    }

    public var description: String { "\(path): \(reason)" }
    public var errorDescription: String? { description }
}
