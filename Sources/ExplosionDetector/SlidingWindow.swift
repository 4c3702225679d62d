/// The last `capacity` values in arrival order and in sorted order, so the median and the MAD of
/// a window cost O(capacity) at most, with no allocation per point.
struct SlidingWindow {
    let capacity: Int
    private var ring: [Double]
    private var head = 0
    private(set) var count = 0
    private var sorted: [Double]

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        ring = Array(repeating: 0, count: self.capacity)
        sorted = []
        sorted.reserveCapacity(self.capacity)
    }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ value: Double) {
        if count == capacity {
            let oldest = ring[head]
            sorted.remove(at: Self.lowerBound(sorted, oldest))
        } else {
            count += 1
        }
        ring[head] = value
        head = (head + 1) % capacity
        sorted.insert(value, at: Self.lowerBound(sorted, value))
    }

    mutating func removeAll() {
        head = 0
        count = 0
        sorted.removeAll(keepingCapacity: true)
    }

    /// Values oldest first.
    var values: [Double] {
        (0..<count).map { ring[(head - count + $0 + capacity) % capacity] }
    }

    var median: Double {
        let n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }

    /// Median absolute deviation from `center`: the deviations on each side of the center are
    /// already sorted, so merging them finds the middle one without sorting.
    func medianAbsoluteDeviation(from center: Double) -> Double {
        let n = sorted.count
        var right = Self.lowerBound(sorted, center)
        var left = right - 1
        var k = 0
        var lower = 0.0
        var upper = 0.0
        let targetLow = (n - 1) / 2
        let targetHigh = n / 2
        while k <= targetHigh {
            let deviation: Double
            if left >= 0 && (right >= n || center - sorted[left] <= sorted[right] - center) {
                deviation = center - sorted[left]
                left -= 1
            } else {
                deviation = sorted[right] - center
                right += 1
            }
            if k == targetLow { lower = deviation }
            if k == targetHigh { upper = deviation }
            k += 1
        }
        return (lower + upper) / 2
    }

    private static func lowerBound(_ array: [Double], _ value: Double) -> Int {
        var low = 0
        var high = array.count
        while low < high {
            let middle = (low + high) / 2
            if array[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
