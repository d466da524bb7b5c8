/// The SquashFS 4.0 file system: the namespace for its on-disk structures, the writer and the reader.
///
/// Everything here is pure Swift with no I/O of its own: the writer appends to a sink and the reader reads from a
/// source that the caller supplies, so the format can be tested in memory. The layout is documented in
/// `docs/format.md`, after the kernel's `Documentation/filesystems/squashfs.rst` and squashfs-tools-ng's
/// `doc/format.adoc`.
public enum SquashFS {}
