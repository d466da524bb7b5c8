/// Reads of a few bytes at an offset, as arrays: the ELF headers and magic numbers the Python builder inspects.
extension ReadOnlyFile {
    /// Up to `count` bytes from `offset`: fewer only at the end of the file, none past it.
    ///
    /// The corresponding C function is `pread`, retried on `EINTR` and after a short read.
    public func bytes(at offset: UInt64, count: Int) throws(SystemError) -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: SystemError?
        let read = bytes.withUnsafeMutableBytes { (buffer) -> Int in
            do throws(SystemError) { return try self.read(into: buffer, at: offset) } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        bytes.removeLast(count - read)
        return bytes
    }
}
