import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into a flag the watch loop checks.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    private var sources: [any DispatchSourceSignal] = []

    /// A queue of its own: the global queues' threads may all be busy reading logs (a first poll
    /// uses every core), and the signal must be seen at once.
    private let queue = DispatchQueue(label: "gradalert.stop-signal")

    init() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [weak self] in self?.request() }
            source.resume()
            sources.append(source)
        }
    }

    func request() {
        lock.lock()
        flag = true
        lock.unlock()
    }

    var requested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return flag
    }
}
