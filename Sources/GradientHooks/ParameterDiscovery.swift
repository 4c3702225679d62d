/// Finds every `Parameter` a model holds, by reflection, with a stable dotted name for each —
/// `encoder.layers.0.weight` — in declaration order. No conformance needed: stored properties of
/// structs and classes, arrays (by index), dictionaries (by key, sorted), optionals, tuples and
/// enum payloads are all looked into. A parameter reachable by two paths (shared weights) is
/// listed once, under the first; reference cycles are followed once.
public enum ParameterDiscovery {
    public static func namedParameters(of model: Any) -> [(name: String, parameter: Parameter)] {
        var found: [(String, Parameter)] = []
        var seenParameters: Set<ObjectIdentifier> = []
        var seenObjects: Set<ObjectIdentifier> = []
        visit(model, path: [], found: &found, seenParameters: &seenParameters, seenObjects: &seenObjects)
        return found
    }

    private static func visit(
        _ value: Any, path: [String], found: inout [(String, Parameter)],
        seenParameters: inout Set<ObjectIdentifier>, seenObjects: inout Set<ObjectIdentifier>
    ) {
        if let parameter = value as? Parameter {
            if seenParameters.insert(ObjectIdentifier(parameter)).inserted {
                found.append((path.isEmpty ? "parameter" : path.joined(separator: "."), parameter))
            }
            return
        }
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .class {
            let object = value as AnyObject
            guard seenObjects.insert(ObjectIdentifier(object)).inserted else { return }
        }
        switch mirror.displayStyle {
        case .optional:
            if let wrapped = mirror.children.first?.value {
                visit(wrapped, path: path, found: &found, seenParameters: &seenParameters, seenObjects: &seenObjects)
            }
        case .collection:
            for (index, child) in mirror.children.enumerated() {
                visit(child.value, path: path + [String(index)], found: &found, seenParameters: &seenParameters, seenObjects: &seenObjects)
            }
        case .dictionary:
            // Entries are (key, value) pairs; dictionary order is not stable, so sort by key.
            var entries: [(String, Any)] = []
            for child in mirror.children {
                let pair = Mirror(reflecting: child.value).children.map(\.value)
                guard pair.count == 2 else { continue }
                entries.append((String(describing: pair[0]), pair[1]))
            }
            for (key, entry) in entries.sorted(by: { $0.0 < $1.0 }) {
                visit(entry, path: path + [key], found: &found, seenParameters: &seenParameters, seenObjects: &seenObjects)
            }
        case .set:
            return  // unordered: no stable names
        default:
            var current: Mirror? = mirror
            var levels: [Mirror] = []
            // A subclass's mirror lists its own properties; the superclass's come first.
            while let level = current {
                levels.append(level)
                current = level.superclassMirror
            }
            for level in levels.reversed() {
                for (index, child) in level.children.enumerated() {
                    visit(child.value, path: path + [name(of: child.label, index: index)], found: &found,
                          seenParameters: &seenParameters, seenObjects: &seenObjects)
                }
            }
        }
    }

    /// A property's name as a path component: property-wrapper storage (`_weight`) by its wrapped
    /// name, tuple elements (`.0`) by index.
    private static func name(of label: String?, index: Int) -> String {
        guard var label, !label.isEmpty else { return String(index) }
        if label.hasPrefix("$__lazy_storage_$_") { label.removeFirst("$__lazy_storage_$_".count) }
        if label.hasPrefix("_"), label.count > 1 { label.removeFirst() }
        if label.hasPrefix(".") { label.removeFirst() }
        return label
    }
}
