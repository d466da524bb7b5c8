/// The launcher's runtime: mounting an image with our FUSE server, reusing and pinning mounts, and the server
/// process itself (`XarMount.Server`, run when `xarexec` is invoked as `xarfs`).
public enum XarMount {}
