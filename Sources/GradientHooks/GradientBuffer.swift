/// A gradient buffer of any of the element types gradalert reads.
public enum GradientBuffer {
    case float(UnsafeBufferPointer<Float>)
    case double(UnsafeBufferPointer<Double>)
    /// IEEE binary16 elements, as their bit patterns.
    case float16(UnsafeBufferPointer<UInt16>)

    public var count: Int {
        switch self {
        case .float(let buffer): buffer.count
        case .double(let buffer): buffer.count
        case .float16(let buffer): buffer.count
        }
    }
}

/// A gradient in memory gradalert does not own (C, another framework), named.
public struct NamedGradient {
    public var name: String
    public var buffer: GradientBuffer

    public init(_ name: String, _ buffer: UnsafeBufferPointer<Float>) {
        self.name = name
        self.buffer = .float(buffer)
    }

    public init(_ name: String, _ buffer: GradientBuffer) {
        self.name = name
        self.buffer = buffer
    }
}
