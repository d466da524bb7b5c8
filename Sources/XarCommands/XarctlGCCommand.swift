public import ArgumentParser
import Foundation
internal import XarMount

/// `xarctl gc [--idle DURATION] [--cache-limit SIZE] [--copy-limit SIZE] [--blocks-limit SIZE] [--dry-run] [--json]`.
public struct XarctlGC: ParsableCommand {
    /// The command's help.
    public static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Unmount idle and dead .xar mounts, remove leftovers, prune the extraction cache and copies.",
        discussion: """
            Unmounts mounts nobody used for --idle (never one in use or pinned), detaches dead ones (their server \
            was killed), removes leftover mount directories, state and lock files, and prunes the extraction \
            cache least recently used first down to --cache-limit, and the servers' local copies of images that \
            no live server reads, least recently used first, down to --copy-limit, and the saved start-up blocks \
            of images not mounted, least recently used first, down to --blocks-limit, and the entries of the digest \
            and structural-check caches whose file is gone or changed or that are older than 30 days. Never \
            touches a mount that \
            is not an xarfs mount in a uid-<uid> directory. Safe while launches happen: it takes each image's \
            lock like the launcher and skips what is busy. Examples: xarctl gc --idle 15m; xarctl gc --dry-run --json.
            """
    )

    @Option(help: "Unmount mounts idle at least this long: 90s, 15m, 2h, 1d (a bare number is seconds).")
    public var idle: String = "15m"

    @Option(name: .customLong("cache-limit"), help: "Prune the extraction cache down to this size: 500M, 2G.")
    public var cacheLimit: String = "2G"

    @Option(
        name: .customLong("copy-limit"),
        help: "Prune the local copies of images (images/ beside the mounts) that no server reads down to this size.")
    public var copyLimit: String = "2G"

    @Option(
        name: .customLong("blocks-limit"),
        help: "Prune the saved start-up blocks (.startup-blocks beside the mounts) of unmounted images to this size.")
    public var blocksLimit: String = "1G"

    @Flag(name: .customLong("dry-run"), help: "Say what would be done; change nothing.")
    public var dryRun = false

    @Flag(help: "Print JSON instead of lines.")
    public var json = false

    /// Creates the command; ArgumentParser calls this.
    public init() {}

    /// Checks the duration and size.
    public func validate() throws {
        guard Self.seconds(idle) != nil else { throw ValidationError("--idle \(idle) is not a duration like 15m") }
        guard Self.bytes(cacheLimit) != nil else {
            throw ValidationError("--cache-limit \(cacheLimit) is not a size like 2G")
        }
        guard Self.bytes(copyLimit) != nil else {
            throw ValidationError("--copy-limit \(copyLimit) is not a size like 2G")
        }
        guard Self.bytes(blocksLimit) != nil else {
            throw ValidationError("--blocks-limit \(blocksLimit) is not a size like 1G")
        }
    }

    /// What `--json` prints.
    struct Report: Codable {
        var dryRun: Bool
        var actions: [GarbageCollector.Action]
    }

    /// Collects.
    public func run() throws {
        let actions = GarbageCollector.collect(
            idleSeconds: Self.seconds(idle) ?? 900, cacheLimit: Self.bytes(cacheLimit),
            copyLimit: Self.bytes(copyLimit), blocksLimit: Self.bytes(blocksLimit), dryRun: dryRun)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(Report(dryRun: dryRun, actions: actions)), as: UTF8.self))
            return
        }
        for action in actions {
            let verb = action.action == "keep" ? "keep" : (dryRun ? "would \(action.action)" : action.action)
            print("\(verb) \(action.path): \(action.reason)")
        }
    }

    /// Seconds in `90`, `90s`, `15m`, `2h`, `1d`; nil when it is none of these.
    static func seconds(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let last = text.last else { return nil }
        let (digits, unit) = units[last].map { (text.dropLast(), $0) } ?? (Substring(text), 1)
        guard let n = Int(digits), n >= 0 else { return nil }
        return n * unit
    }

    /// Bytes in `1048576`, `500K`, `500M`, `2G`, `1T` (binary units); nil when it is none of these.
    static func bytes(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
        var body = Substring(text.lowercased())
        if body.hasSuffix("ib") { body = body.dropLast(2) } else if body.hasSuffix("b") { body = body.dropLast() }
        guard let last = body.last else { return nil }
        let (digits, unit) = units[last].map { (body.dropLast(), $0) } ?? (body, 1)
        guard let n = Int64(digits), n >= 0, n <= Int64.max / unit else { return nil }
        return n * unit
    }
}
