internal import Glibc

/// Reads the process environment: the one place that calls `getenv`.
///
/// Only `XarMount.Settings` should ask it for `XAR_*` variables, once per process; everything else receives the
/// values from there.
public enum Environment {
    /// The value of the variable `name`, or nil when it is not set.
    ///
    /// The corresponding C function is `getenv`.
    public static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
