import Testing

@testable import GradAlertAnalysis

@Suite struct TagTableTests {
    /// Hundreds of tags with shared prefixes and every length from 0 to 40 bytes, so the table
    /// grows several times and words and tail bytes of the hash are all exercised.
    @Test func findsEveryTagAndNothingElse() {
        var table = TagTable()
        var tags: [String] = [""]
        for length in 1...40 { tags.append(String(repeating: "g", count: length)) }
        for layer in 0..<300 { tags.append("grad_norm/layers.\(layer).weight") }
        for (index, tag) in tags.enumerated() {
            var key = tag
            #expect(key.withUTF8 { table.find(UnsafeRawBufferPointer($0)) } == nil)
            key.withUTF8 { table.insert(UnsafeRawBufferPointer($0), index: index) }
        }
        for (index, tag) in tags.enumerated() {
            var key = tag
            #expect(key.withUTF8 { table.find(UnsafeRawBufferPointer($0)) } == index, "\(tag)")
        }
        for absent in ["grad_norm/layers.300.weight", "grad_norm/layers.0.weigh", String(repeating: "g", count: 41), "G"] {
            var key = absent
            #expect(key.withUTF8 { table.find(UnsafeRawBufferPointer($0)) } == nil, "\(absent)")
        }
    }
}
