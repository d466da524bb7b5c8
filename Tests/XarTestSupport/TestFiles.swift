import XarSystem

/// Small file helpers the tests share.
public enum TestFiles {
    /// The whole text of a small file (a log, a state file, a program's output), or "" when it cannot be read:
    /// tests poll such files while another process may still be creating them.
    public static func readText(_ path: String) -> String { SmallFile.text(path) }
}
