import Foundation

/// Why a protobuf message could not be decoded.
public enum WireError: LocalizedError, Equatable, Sendable, CustomStringConvertible {
    /// A field runs past the end of its message.
    case truncated
    /// A varint longer than ten bytes, a field number of 0, a group, or a wire type of 6 or 7.
    case malformed

    public var description: String {
        switch self {
        case .truncated: "a protobuf field runs past the end of its message"
        case .malformed: "malformed protobuf (a varint over ten bytes, field number 0, a group, or wire type 6 or 7)"
        }
    }

    public var errorDescription: String? { description }
}
