import Testing

@testable import GradientHooks

struct Dense {
    var weight: Parameter
    var bias: Parameter
    init(_ inputs: Int, _ outputs: Int) {
        weight = Parameter(shape: [outputs, inputs])
        bias = Parameter(shape: [outputs])
    }
}

final class Block {
    let attention: Dense
    let feedForward: [Dense]
    var norm: Parameter?
    init() {
        attention = Dense(4, 4)
        feedForward = [Dense(4, 8), Dense(8, 4)]
        norm = Parameter(shape: [4])
    }
}

class Base {
    let embedding = Parameter(shape: [10, 4])
}

final class Model: Base {
    let layers: [Block] = [Block(), Block()]
    let heads: [String: Dense] = ["zeta": Dense(4, 2), "alpha": Dense(4, 3)]
    let count = 3  // not a parameter
    var pair = (Parameter(shape: [1]), Parameter(shape: [2]))
    lazy var cached = Parameter(shape: [1])
}

@Suite struct DiscoveryTests {
    @Test func namesInDeclarationOrder() {
        let model = Model()
        let names = ParameterDiscovery.namedParameters(of: model).map(\.name)
        #expect(names == [
            "embedding",
            "layers.0.attention.weight", "layers.0.attention.bias",
            "layers.0.feedForward.0.weight", "layers.0.feedForward.0.bias",
            "layers.0.feedForward.1.weight", "layers.0.feedForward.1.bias",
            "layers.0.norm",
            "layers.1.attention.weight", "layers.1.attention.bias",
            "layers.1.feedForward.0.weight", "layers.1.feedForward.0.bias",
            "layers.1.feedForward.1.weight", "layers.1.feedForward.1.bias",
            "layers.1.norm",
            "heads.alpha.weight", "heads.alpha.bias", "heads.zeta.weight", "heads.zeta.bias",
            "pair.0", "pair.1",
        ])
    }

    @Test func sharedParametersAreListedOnce() {
        let shared = Parameter(shape: [3])
        struct Tied { var encoder: Parameter; var decoder: Parameter }
        let found = ParameterDiscovery.namedParameters(of: Tied(encoder: shared, decoder: shared))
        #expect(found.map(\.name) == ["encoder"])
        #expect(found.first?.parameter === shared)
    }

    @Test func cyclesTerminate() {
        final class Node {
            var weight = Parameter(shape: [2])
            var next: Node?
        }
        let a = Node(), b = Node()
        a.next = b
        b.next = a
        #expect(ParameterDiscovery.namedParameters(of: a).map(\.name) == ["weight", "next.weight"])
    }

    @Test func globFilter() {
        let filter = ParameterFilter.glob("layers.*.attention.*")
        #expect(filter.matches("layers.0.attention.weight"))
        #expect(filter.matches("layers.12.attention.bias"))
        #expect(!filter.matches("layers.0.norm"))
        #expect(ParameterFilter.glob("*bias").matches("heads.alpha.bias"))
        #expect(!ParameterFilter.glob("*bias").matches("heads.alpha.bias2"))
        #expect(ParameterFilter.glob("pair.?").matches("pair.1"))
        #expect(ParameterFilter.containing("norm", "embed").matches("embedding"))
    }
}
