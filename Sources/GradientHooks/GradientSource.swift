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

/// A model that keeps its own storage (another framework's tensors, GPU staging buffers): it names
/// its parameters and lends each gradient for the duration of a closure.
public protocol GradientSource {
    /// Parameter names, in a stable order.
    var parameterNames: [String] { get }
    /// Calls `body` with the gradient of `name`, valid only inside the call.
    func withGradient<R>(of name: String, _ body: (GradientBuffer) throws -> R) rethrows -> R
    /// Calls `body` with the values of `name`; nil when the model does not share them (the
    /// default). Not used by `GradientMonitor` yet: its update-to-weight ratio covers reflected
    /// `Parameter`s.
    func withValues<R>(of name: String, _ body: (GradientBuffer) throws -> R) rethrows -> R?
    /// Scales the gradient of `name` in place by `factor`; false when the model does not allow
    /// it (then clipping is not available).
    func scaleGradient(of name: String, by factor: Double) -> Bool
}

extension GradientSource {
    public func withValues<R>(of name: String, _ body: (GradientBuffer) throws -> R) rethrows -> R? { nil }
    public func scaleGradient(of name: String, by factor: Double) -> Bool { false }
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

/// Chooses which parameters are watched, by name.
public struct ParameterFilter: Sendable {
    private let predicate: @Sendable (String) -> Bool

    public init(_ predicate: @escaping @Sendable (String) -> Bool) {
        self.predicate = predicate
    }

    /// A shell-style glob on the dotted name: `*` any run of characters, `?` one character
    /// (`encoder.*.weight`, `*bias`).
    public static func glob(_ pattern: String) -> ParameterFilter {
        let pattern = Array(pattern)
        return ParameterFilter { name in globMatch(pattern[...], Array(name)[...]) }
    }

    /// Every parameter whose name contains one of `parts`.
    public static func containing(_ parts: String...) -> ParameterFilter {
        ParameterFilter { name in parts.contains { name.contains($0) } }
    }

    public static let all = ParameterFilter { _ in true }

    public func matches(_ name: String) -> Bool { predicate(name) }

    private static func globMatch(_ pattern: ArraySlice<Character>, _ text: ArraySlice<Character>) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var star: Int?
        var retry = text.startIndex
        while t < text.endIndex {
            if p < pattern.endIndex, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.endIndex, pattern[p] == "*" {
                star = p
                retry = t
                p += 1
            } else if let s = star {
                p = s + 1
                retry += 1
                t = retry
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }
}
