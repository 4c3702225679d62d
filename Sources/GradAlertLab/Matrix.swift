#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A row-major matrix of Floats: a batch of row vectors. Just what the lab's layers need.
public struct Matrix: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var values: [Float]

    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns, "\(rows)x\(columns) needs \(rows * columns) values")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public init(zeros rows: Int, _ columns: Int) {
        self.init(rows: rows, columns: columns, values: [Float](repeating: 0, count: rows * columns))
    }

    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// self · otherᵀ, where `other` is stored row-major as (n × columns): a dense layer's x·Wᵀ.
    public func timesTransposed(_ other: UnsafeBufferPointer<Float>, rows n: Int) -> Matrix {
        var result = Matrix(zeros: rows, n)
        values.withUnsafeBufferPointer { a in
            result.values.withUnsafeMutableBufferPointer { c in
                for i in 0..<rows {
                    for j in 0..<n {
                        var sum: Float = 0
                        for k in 0..<columns { sum += a[i * columns + k] * other[j * columns + k] }
                        c[i * n + j] = sum
                    }
                }
            }
        }
        return result
    }

    /// self · W, where W is (columns × m) row-major: backpropagating through x·Wᵀ.
    public func times(_ other: UnsafeBufferPointer<Float>, columns m: Int) -> Matrix {
        var result = Matrix(zeros: rows, m)
        values.withUnsafeBufferPointer { a in
            result.values.withUnsafeMutableBufferPointer { c in
                for i in 0..<rows {
                    for k in 0..<columns {
                        let scale = a[i * columns + k]
                        if scale == 0 { continue }
                        for j in 0..<m { c[i * m + j] += scale * other[k * m + j] }
                    }
                }
            }
        }
        return result
    }

    /// Adds selfᵀ · x into `gradient` (rows of self are output gradients, rows of x inputs): the
    /// weight gradient of x·Wᵀ, W stored (columns × x.columns).
    public func accumulateTransposedProduct(with x: Matrix, into gradient: UnsafeMutableBufferPointer<Float>) {
        precondition(rows == x.rows)
        values.withUnsafeBufferPointer { g in
            x.values.withUnsafeBufferPointer { input in
                for r in 0..<rows {
                    for i in 0..<columns {
                        let scale = g[r * columns + i]
                        if scale == 0 { continue }
                        for j in 0..<x.columns { gradient[i * x.columns + j] += scale * input[r * x.columns + j] }
                    }
                }
            }
        }
    }

    public static func + (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.rows == rhs.rows && lhs.columns == rhs.columns)
        var result = lhs
        for index in result.values.indices { result.values[index] += rhs.values[index] }
        return result
    }
}
