import Synchronization
import XarSystem

/// The progress bar `xarbuild` draws on standard error while it builds: only when standard error is a
/// terminal, and only once the build has run for a second (short builds print just the summary line).
///
/// The writer calls `update` from its worker threads, so the state sits behind a mutex; redraws are limited to
/// ten a second so that drawing never costs build time, and a line is cut to the terminal's width so that it
/// never wraps (a wrapped line cannot be redrawn in place). `xarbuild python` also shows its steps with `status`.
final class BuildProgress: Sendable {
    private struct State {
        var lastDraw: Double = 0
        var drawn = false
    }

    private let start: Double
    private let enabled: Bool
    private let delay: Double
    private let state = Mutex(State())

    /// A progress bar for a build that starts now; drawn only if `isatty(2)`, and only after `delay` seconds.
    init(delay: Double = 1) {
        start = MonotonicClock.now()
        enabled = StandardError.isTerminal
        self.delay = delay
    }

    /// Shows `message` (a step of the build: `installing numpy-2.1.3-….whl (3/7)`) in place of the bar.
    func status(_ message: String) {
        guard enabled else { return }
        let now = MonotonicClock.now()
        guard now - start >= delay else { return }
        let draw = state.withLock { state in
            guard now - state.lastDraw >= 0.1 else { return false }
            state.lastDraw = now
            state.drawn = true
            return true
        }
        if draw { StandardError.write("\r\u{1B}[K" + Self.fitted(message)) }
    }

    /// Records that `done` of `total` input bytes are written.
    func update(done: Int64, total: Int64) {
        guard enabled else { return }
        let now = MonotonicClock.now()
        guard now - start >= delay else { return }
        let line: String? = state.withLock { state in
            guard now - state.lastDraw >= 0.1 || done == total else { return nil }
            state.lastDraw = now
            state.drawn = true
            let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let percent = Int(fraction * 100)
            return "\r\u{1B}[K"
                + Self.fitted("[\(bar)] \(percent)% \(ByteSize.human(done)) of \(ByteSize.human(total))")
        }
        if let line { StandardError.write(line) }
    }

    /// Erases the bar, so the summary line starts on a clean line.
    func finish() {
        let drawn = state.withLock { state in
            defer { state.drawn = false }
            return state.drawn
        }
        if drawn { StandardError.write("\r\u{1B}[K") }
    }

    /// `line` cut to one character less than the terminal's width (80 when it cannot be asked), so the cursor
    /// never wraps.
    static func fitted(_ line: String) -> String {
        let columns = StandardError.terminalColumns ?? 80
        return line.count < columns ? line : String(line.prefix(max(columns - 2, 1))) + "…"
    }

    /// Seconds since the build started.
    var elapsed: Double { MonotonicClock.now() - start }
}
