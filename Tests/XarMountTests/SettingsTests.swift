import Testing
import XarMount
import XarSystem
import XarTestSupport

/// The one reader of the environment: every `XAR_*` variable, its default, and what counts as unset.
@Suite struct SettingsTests {
    @Test func nothingSetGivesTheDocumentedDefaults() {
        let settings = Settings(lookup: { _ in nil })
        #expect(settings.mountRoot == nil)
        #expect(settings.mountTimeout == nil)
        #expect(settings.localCopy == nil)
        #expect(settings.localCopyDelay == 0 && settings.verifyDelay == 1)
        #expect(settings.networkFileSystemTypes == nil)
        #expect(settings.fuseDevice == "/dev/fuse")
        #expect(!settings.quiet && !settings.serverTrace)
        #expect(settings.serverLog == nil)
        #expect(settings.startupPlan && settings.startupBlocks && settings.prefetch && settings.noOpen)
        #expect(settings.runtimeDirectory == nil && settings.cacheHome == nil)
    }

    @Test func everyVariableIsRead() {
        let environment = [
            "XAR_MOUNT_ROOT": "/m", "XAR_MOUNT_TIMEOUT": "7", "XAR_LOCAL_COPY": "always", "XAR_LOCAL_COPY_DELAY": "2.5",
            "XAR_NETWORK_FS_TYPES": "0x65735546", "XAR_FUSE_DEVICE": "/nonexistent", "XAR_QUIET": "1",
            "XAR_SERVER_LOG": "/l", "XAR_STARTUP_BLOCKS": "0", "XAR_PREFETCH": "0", "XAR_NO_OPEN": "0",
            "XAR_SERVER_TRACE": "1", "XDG_RUNTIME_DIR": "/run/user/1", "HOME": "/home/u", "XAR_VERIFY_DELAY": "-1",
        ]
        let settings = Settings(lookup: { environment[$0] })
        #expect(settings.mountRoot == "/m" && settings.mountTimeout == 7 && settings.localCopy == "always")
        #expect(settings.localCopyDelay == 2.5 && settings.networkFileSystemTypes == "0x65735546")
        #expect(settings.fuseDevice == "/nonexistent" && settings.quiet && settings.serverLog == "/l")
        #expect(settings.startupPlan && !settings.startupBlocks && !settings.prefetch && !settings.noOpen)
        #expect(settings.serverTrace && settings.runtimeDirectory == "/run/user/1")
        #expect(settings.cacheHome == "/home/u/.cache" && settings.verifyDelay == -1)
    }

    @Test func emptyBadOrRelativeValuesCountAsUnset() {
        let environment = [
            "XAR_MOUNT_ROOT": "", "XAR_MOUNT_TIMEOUT": "-1", "XAR_LOCAL_COPY_DELAY": "soon", "XDG_RUNTIME_DIR": "",
            "XDG_CACHE_HOME": "relative", "HOME": "also-relative", "XAR_STARTUP_PLAN": "0",
        ]
        let settings = Settings(lookup: { environment[$0] })
        #expect(settings.mountRoot == nil && settings.mountTimeout == nil && settings.localCopyDelay == 0)
        #expect(settings.runtimeDirectory == nil && settings.cacheHome == nil)
        // No plan means no saved blocks either.
        #expect(!settings.startupPlan && !settings.startupBlocks)
    }

    @Test func anAbsoluteCacheHomeWins() {
        let environment = ["XDG_CACHE_HOME": "/c", "HOME": "/home/u"]
        #expect(Settings(lookup: { environment[$0] }).cacheHome == "/c")
    }

    @Test func systemErrorsNameWhatWasDoneAndThePath() throws {
        let missing = TemporaryDirectory()("missing")
        let error = #expect(throws: SystemError.self) { _ = try ReadOnlyFile(opening: missing) }
        #expect(error?.description == "cannot open \(missing): No such file or directory")
        #expect(error?.reason == "No such file or directory")
    }

    @Test func aReadOnlyFileReadsFromAnOffsetAndHashesFromOne() throws {
        let dir = TemporaryDirectory()
        let path = dir("f")
        try SmallFile.replace(path, with: Array("0123456789".utf8))
        let file = try ReadOnlyFile(opening: path)
        var buffer = [UInt8](repeating: 0, count: 8)
        let count = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: 6) }
        #expect(count == 4 && Array(buffer[0..<4]) == Array("6789".utf8))
        // SHA-256 of "6789".
        #expect(try file.sha256(from: 6) == "499bc7df9d8873c1c38e6898177c343b2a34d2eb43178a9eb4efcb993366c8cd")
    }
}
