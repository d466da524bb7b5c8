import Foundation
import XarSystem

/// `FileSystem`'s whole-file calls with `Data`, the type the Python builder's JSON, zip and digest code uses.
extension FileSystem {
    /// The whole contents of the file at `path`.
    static func data(_ path: String) throws(SystemError) -> Data {
        Data(try contents(path))
    }

    /// Writes `data` as the file at `path` with exactly `permissions`; see `FileSystem.write(_:to:permissions:)`.
    static func write(_ data: Data, to path: String, permissions: UInt32 = 0o644) throws(SystemError) {
        var failure: SystemError?
        data.withUnsafeBytes { buffer in
            do throws(SystemError) { try write(buffer, to: path, permissions: permissions) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}
