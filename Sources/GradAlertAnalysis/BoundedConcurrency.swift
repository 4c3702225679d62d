/// Runs `work` on every element with at most `limit` tasks at a time, and returns the results in
/// the elements' order; `done` is called (on the caller's task) after each one finishes, with the
/// result and how many have finished. Used where each job is large (a run to scan, a network to
/// train), so that results come in order while the cores stay busy. Work that can fail returns a
/// `Swift.Result`.
package func mapConcurrently<Element: Sendable, Output: Sendable>(
    _ elements: [Element], limit: Int,
    _ work: @escaping @Sendable (Element) async -> Output,
    done: (Output, Int) -> Void = { _, _ in }
) async -> [Output] {
    await withTaskGroup(of: (Int, Output).self) { group in
        var results = [Output?](repeating: nil, count: elements.count)
        var next = 0
        var finished = 0
        func launch() {
            guard next < elements.count else { return }
            let index = next
            let element = elements[index]
            next += 1
            group.addTask { (index, await work(element)) }
        }
        for _ in 0..<max(1, limit) { launch() }
        while let (index, output) = await group.next() {
            results[index] = output
            finished += 1
            done(output, finished)
            launch()
        }
        return results.map { $0! }
    }
}
