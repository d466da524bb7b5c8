public import ArgumentParser
import Foundation
internal import XarMount

/// `xarctl list [--json]`: every `.xar` mount of the user (of every user, for root) and the extraction cache.
public struct XarctlList: ParsableCommand {
    /// The command's help.
    public static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List .xar mounts (for root: of every user) and extraction-cache entries.",
        discussion: """
            For each mount: its path, status (live, dead, stopped, leftover, foreign), server pid, the processes \
            using it, whether it is pinned, how long it has been idle, where reads are served from, the chain \
            (DEPENDS: "on MOUNT" for a thin image, the live mount of the runtime it runs on, or "on sha256:HEX \
            (not mounted)"; "for MOUNT,..." for a runtime, the mounts of the thin images on it) and the image. \
            Mounts are looked for under $XAR_MOUNT_ROOT, else /mnt/xarfuse, $XDG_RUNTIME_DIR and /dev/shm, and \
            wherever the mount table shows an xarfs mount.
            """
    )

    @Flag(help: "Print JSON instead of a table.")
    public var json = false

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// What `--json` prints.
    struct Listing: Codable {
        var mounts: [MountRecord]
        var extractionCache: [ExtractionCacheInventory.Entry]
    }

    /// Lists.
    public func run() throws {
        let listing = Listing(mounts: MountInventory.records(), extractionCache: ExtractionCacheInventory.entries())
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(listing), as: UTF8.self))
            return
        }
        print(Self.table(listing))
    }

    /// The human table.
    static func table(_ listing: Listing) -> String {
        var rows = [["MOUNT", "STATUS", "PID", "USERS", "PIN", "IDLE", "SOURCE", "DEPENDS", "IMAGE"]]
        for record in listing.mounts {
            let users =
                record.users.isEmpty ? "-" : record.users.map { "\($0.pid)(\($0.command))" }.joined(separator: ",")
            rows.append([
                record.mountPoint, record.status.rawValue, record.serverPid.map(String.init) ?? "-", users,
                record.pinned ? "yes" : "no", record.idleSeconds.map(Self.duration) ?? "-",
                record.readSource.isEmpty ? "-" : record.readSource, depends(record),
                record.image.isEmpty ? "-" : record.image,
            ])
        }
        var lines = listing.mounts.isEmpty ? ["no .xar mounts"] : align(rows)
        if !listing.extractionCache.isEmpty {
            lines.append("")
            var cacheRows = [["EXTRACTED", "SIZE", "LAST USED", "USERS"]]
            let now = Int64(Date().timeIntervalSince1970)
            for entry in listing.extractionCache {
                cacheRows.append([
                    entry.path, ByteSize.human(entry.bytes), duration(Int(now - entry.lastUsed)) + " ago",
                    String(entry.users),
                ])
            }
            lines += align(cacheRows)
        }
        return lines.joined(separator: "\n")
    }

    /// The DEPENDS cell: the runtime a thin image's mount runs on, or the mounts a runtime's mount serves.
    static func depends(_ record: MountRecord) -> String {
        if !record.runtime.isEmpty {
            return record.runtimeMount.isEmpty
                ? "on sha256:\(record.runtime) (not mounted)" : "on \(record.runtimeMount)"
        }
        return record.dependents.isEmpty ? "-" : "for " + record.dependents.joined(separator: ",")
    }

    /// Columns padded to their widest cell.
    static func align(_ rows: [[String]]) -> [String] {
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }

    /// `42s`, `5m`, `3h`, `2d`.
    static func duration(_ seconds: Int) -> String {
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }
}
