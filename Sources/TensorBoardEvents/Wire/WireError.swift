/// Why a protobuf message could not be decoded.
public enum WireError: Error, Equatable, Sendable {
    /// A field runs past the end of its message.
    case truncated
    /// A varint longer than ten bytes, a field number of 0, a group, or a wire type of 6 or 7.
    case malformed
}
