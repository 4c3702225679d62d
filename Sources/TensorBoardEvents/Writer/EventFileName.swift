#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// `events.out.tfevents.<10-digit unix seconds>.<host>.<pid>.<n>`, the name every TensorBoard writer
/// uses; `n` counts the files this process has opened, so two writers never collide. `n` has six
/// digits (000000, 000001, ...) so that files a process opens in the same second sort in the order
/// they were opened: readers, TensorBoard's included, take a run's files in name order, and
/// "…​.10" would otherwise sort before "….9".
enum EventFileName {
    private static let counter = Atomic<Int>(0)

    static func next(seconds: Int, suffix: String) -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        var digits = String(seconds)
        if digits.count < 10 { digits = String(repeating: "0", count: 10 - digits.count) + digits }
        var counter = String(n)
        if counter.count < 6 { counter = String(repeating: "0", count: 6 - counter.count) + counter }
        return "events.out.tfevents.\(digits).\(hostname).\(getpid()).\(counter)\(suffix)"
    }

    static let hostname: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name.replacingSlashes()
    }()
}

extension String {
    fileprivate func replacingSlashes() -> String {
        String(map { $0 == "/" ? "_" : $0 })
    }
}
