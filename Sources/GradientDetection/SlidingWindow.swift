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
            // Full: the oldest value leaves and the new one enters the sorted order in one shift of
            // the values between their two places.
            let oldest = ring[head]
            ring[head] = value
            head = (head + 1) % capacity
            sorted.withUnsafeMutableBufferPointer { sorted in
                let base = sorted.baseAddress!
                // Both places at once, by counting (no branches to mispredict; vectorises).
                var from = 0
                var to = 0
                for element in sorted {
                    from &+= element < oldest ? 1 : 0
                    to &+= element < value ? 1 : 0
                }
                if to > from {
                    // Everything in (from, to) moves down one; the new value goes just before `to`.
                    (base + from).update(from: base + from + 1, count: to - 1 - from)
                    base[to - 1] = value
                } else {
                    // Everything in [to, from) moves up one; the new value goes at `to`.
                    (base + to + 1).update(from: base + to, count: from - to)
                    base[to] = value
                }
            }
            return
        }
        count += 1
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
