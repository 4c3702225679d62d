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
