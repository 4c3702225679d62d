/// The episodes open on one series, one slot per alert kind: looked up on every point, so a fixed
/// table rather than a hash.
struct OpenEpisodes {
    /// One open episode of one kind, with the state that decides when it closes.
    struct Episode {
        var severity: Severity
        /// log10 of the baseline the spike was measured against (nil: judged on the absolute bound).
        var baselineLog: Double?
        /// Consecutive normal points so far (the episode closes at `recoveryPoints`).
        var normalRun = 0
        /// Points since it opened (a spike that lasts a whole window becomes the new level).
        var pointsOpen = 0
    }

    private var slots: (Episode?, Episode?, Episode?, Episode?, Episode?, Episode?, Episode?) = (nil, nil, nil, nil, nil, nil, nil)
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    subscript(kind: AlertKind) -> Episode? {
        get {
            switch kind {
            case .nonfinite: slots.0
            case .spike: slots.1
            case .growth: slots.2
            case .threshold: slots.3
            case .vanishing: slots.4
            case .collapse: slots.5
            case .cliffs: slots.6
            }
        }
        set {
            let had = self[kind] != nil
            switch kind {
            case .nonfinite: slots.0 = newValue
            case .spike: slots.1 = newValue
            case .growth: slots.2 = newValue
            case .threshold: slots.3 = newValue
            case .vanishing: slots.4 = newValue
            case .collapse: slots.5 = newValue
            case .cliffs: slots.6 = newValue
            }
            count += (newValue != nil ? 1 : 0) - (had ? 1 : 0)
        }
    }

    /// The kinds with an open episode, in `AlertKind` order.
    var kinds: [AlertKind] { AlertKind.allCases.filter { self[$0] != nil } }
}
