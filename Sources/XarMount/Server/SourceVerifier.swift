import XarSystem

/// Hashes the file the server serves once its first launch is done, and records the image's real SHA-256 in
/// the user's `DigestCache` under the file's identity (docs/lifecycle.md, "Identity").
///
/// A launch of the very file a server serves joins its mount at once (the state file's `image_id`); a launch of
/// another file that claims the same image joins only when both files' real digests are known to be the same,
/// and this is how the served file's becomes known without a launch waiting for it. It runs once requests pause
/// (`XAR_VERIFY_DELAY` seconds after the mount, default 1, then up to 5 s more for a pause), so the first start
/// itself pays nothing; a negative delay turns it off (a joining launch then hashes the served file itself).
final class SourceVerifier: @unchecked Sendable {
    // @unchecked: every field is immutable; only the verifier thread runs `run()`.
    private let imageFD: Int32
    private let offset: UInt64
    private let identity: FileIdentity
    private let claimed: String?
    private let delay: Double
    private let activity: SessionActivity

    /// A verifier for the image open as `imageFD` (with `identity`), whose header claims `claimed`; nil when
    /// `XAR_VERIFY_DELAY` is negative. (Whether the digest is recorded already is asked on the thread: the server
    /// has not answered the kernel's INIT yet, and the launch waits for that.)
    init?(imageFD: Int32, offset: UInt64, claimed: String?, activity: SessionActivity, delay: Double) {
        guard delay >= 0, let identity = FileIdentity(descriptor: imageFD) else { return nil }
        self.imageFD = imageFD
        self.offset = offset
        self.identity = identity
        self.claimed = claimed
        self.delay = delay
        self.activity = activity
    }

    /// Starts the verification on its own thread.
    func start() throws(XarMount.ServerError) {
        try ServerThread.start { self.run() }
    }

    private func run() {
        let started = MonotonicClock.now()
        while true {
            let waited = MonotonicClock.now() - started
            let busy = activity.secondsSinceLastRequest < 0.2
            if waited >= delay && (!busy || waited >= delay + 5) { break }
            MonotonicClock.sleep(0.05)
        }
        if DigestCache.lookup(identity) != nil { return }
        guard let digest = DigestCache.compute(descriptor: imageFD, offset: offset) else {
            XarMount.Server.log("cannot read the image to verify its digest")
            return
        }
        // Recorded only when the file did not change while it was read (the identity names one content).
        guard FileIdentity(descriptor: imageFD) == identity else { return }
        DigestCache.record(digest, for: identity, descriptor: imageFD)
        if let claimed, claimed != digest {
            XarMount.Server.log(
                "the image's SHA-256 is \(digest), not the header's \(claimed): no other file joins this mount")
        }
    }
}
