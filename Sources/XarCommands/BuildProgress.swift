import Glibc
import Synchronization

/// The progress bar `xarbuild` draws on standard error while it builds: only when standard error is a
/// terminal, and only once the build has run for a second (short builds print just the summary line).
///
/// The writer calls `update` from its worker threads, so the state sits behind a mutex; redraws are limited to
/// ten a second so that drawing never costs build time.
final class BuildProgress: Sendable {
    private struct State {
        var lastDraw: Double = 0
        var drawn = false
    }

    private let start: Double
    private let enabled: Bool
    private let state = Mutex(State())

    /// A progress bar for a build that starts now; drawn only if `isatty(2)`.
    init() {
        start = Self.now()
        enabled = isatty(2) == 1
    }

    /// Records that `done` of `total` input bytes are written.
    func update(done: Int64, total: Int64) {
        guard enabled else { return }
        let now = Self.now()
        guard now - start >= 1 else { return }
        let line: String? = state.withLock { state in
            guard now - state.lastDraw >= 0.1 || done == total else { return nil }
            state.lastDraw = now
            state.drawn = true
            let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let percent = Int(fraction * 100)
            return "\r[\(bar)] \(percent)% \(ByteSize.human(done)) of \(ByteSize.human(total))"
        }
        if let line { ToolMain.writeStandardError(line) }
    }

    /// Erases the bar, so the summary line starts on a clean line.
    func finish() {
        let drawn = state.withLock { $0.drawn }
        if drawn { ToolMain.writeStandardError("\r\u{1B}[K") }
    }

    /// Seconds since the build started.
    var elapsed: Double { Self.now() - start }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
