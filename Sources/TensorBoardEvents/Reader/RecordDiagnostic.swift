/// Something wrong in an event file, where it is, and what was done about it.
public struct RecordDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Problem: String, Sendable {
        /// The file ends inside a record: a writer is still writing, or crashed before finishing.
        case truncated
        /// A record's length does not match its CRC: the reader searched for the next intact record.
        case badLengthCRC = "bad_length_crc"
        /// A record's data does not match its CRC: the record was skipped.
        case badDataCRC = "bad_data_crc"
        /// A record whose CRCs match but whose content is not a valid Event, or whose length is absurd.
        case badRecord = "bad_record"
        /// The file could not be opened or read.
        case unreadable
        /// A gzip-compressed file's compressed data is damaged (or followed by bytes that are not
        /// gzip): the records decompressed before the damage were read, none after it can be.
        case badCompression = "bad_compression"
    }

    public var file: String
    /// Byte offset in the file where the problem starts; for a gzip-compressed file, the offset in
    /// its decompressed data (the message names the compressed byte where that applies).
    public var offset: Int
    public var problem: Problem
    public var message: String

    public init(file: String, offset: Int, problem: Problem, message: String) {
        self.file = file
        self.offset = offset
        self.problem = problem
        self.message = message
    }

    public var description: String { "\(file): offset \(offset): \(problem.rawValue): \(message)" }
}
