/// Writing a header: the exact bytes that precede the image.
extension XarHeader {
    /// The lines after `#xar_stop`: when someone runs the file with `sh`, it says what to install and stops
    /// before the shell reaches the image.
    static func trailer(offset: Int) -> String {
        """
        echo "$0: this is a XAR executable. To run it, install xarexec (the XAR launcher) on PATH and run the file itself." >&2
        exit 1
        # The SquashFS image begins at byte \(offset) (OFFSET).

        """
    }

    /// The header as exactly `offset` bytes: shebang, keys, `#xar_stop`, the shell trailer, newlines up to
    /// `OFFSET`.
    ///
    /// Throws `headerTooLong` when the keys do not fit in the 4096 bytes the parser reads, or the text does not
    /// fit in `OFFSET` bytes.
    public func rendered() throws(XarHeaderError) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(offset)
        text += shebang.utf8
        text.append(10)
        for entry in entries {
            text += entry.key.utf8
            text += "=\"".utf8
            text += entry.value.utf8
            text += "\"\n".utf8
        }
        text += Self.stopLine.utf8
        text.append(10)
        guard text.count <= Self.headerSizeBase else {
            throw .headerTooLong(size: text.count, limit: Self.headerSizeBase)
        }
        text += Self.trailer(offset: offset).utf8
        guard text.count <= offset else { throw .headerTooLong(size: text.count, limit: offset) }
        text += repeatElement(10, count: offset - text.count)
        return text
    }
}
