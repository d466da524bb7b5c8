public import Testing

/// The tags for the expensive kinds of test, defined here once for every test target.
extension Tag {
    /// Mounts something through FUSE (needs `/dev/fuse` and `fusermount3`).
    @Tag public static var fuse: Self
    /// Reads our output back with an independent tool (`unsquashfs`, `sqfsdiff`, `squashfuse_ll`, the kernel).
    @Tag public static var oracle: Self
    /// Needs root (kernel loop mounts, another user's files, mount namespaces).
    @Tag public static var root: Self
    /// Takes more than a few seconds.
    @Tag public static var slow: Self
    /// Runs a real CPython interpreter or installs real wheels.
    @Tag public static var python: Self
}
