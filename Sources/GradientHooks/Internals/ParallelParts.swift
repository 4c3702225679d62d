#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Plumbing for the statistics kernel's parallel pass: where the chunks' results go, and how the
// work is handed to other threads.

/// Results of the chunks of one parallel pass.
final class PartResults: @unchecked Sendable {
    private var parts: [GradientStatistics]
    private let lock = NSLockLike()

    init(count: Int) { parts = Array(repeating: GradientStatistics(), count: count) }

    func set(_ index: Int, _ value: GradientStatistics) {
        lock.withLock { parts[index] = value }
    }

    func get(_ index: Int) -> GradientStatistics { lock.withLock { parts[index] } }
}

/// A pthread mutex, so this module needs no Foundation.
final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

/// Hands a value to other threads where the compiler cannot see that it is safe.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
