internal import Glibc

/// Seconds on the monotonic clock, for deadlines.
public enum MonotonicClock {
    /// The current monotonic time in seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
