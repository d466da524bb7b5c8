/// Everything that can be wrong with a `.xar` header: a closed list, one case per problem.
///
/// Modelled on Facebook's `XarParserErrorType`, split finer so that each message says exactly what to fix.
/// The messages are whole sentences about the header; callers prefix the file's path
/// (`xarctl: error: tool.xar: the header has no OFFSET key.`), because the parser never sees a path.
public enum XarHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first line does not start with `#!`.
    case missingShebang
    /// The shebang line is longer than the kernel reads (`BINPRM_BUF_SIZE`, 128 bytes before Linux 5.1).
    case shebangTooLong(length: Int)
    /// No line `#xar_stop` in the first 4096 bytes (or before the bytes ran out).
    case missingStop
    /// A line between the shebang and `#xar_stop` is not of the form `NAME="value"` with a shell variable name.
    case malformedLine(line: Int)
    /// A `NAME=` line whose value is not exactly one double-quoted string without inner quotes.
    case badQuoting(key: String, line: Int)
    /// A value holds a byte the shell would interpret when the header is run by `sh`
    /// (a backquote, a backslash, a `$` not followed by a variable name, or a control character).
    case unsafeValue(key: String)
    /// A value is not valid UTF-8.
    case notUTF8(key: String)
    /// The same key appears twice.
    case duplicateKey(String)
    /// A required key (`OFFSET`, `UUID`, `VERSION`) is absent.
    case missingKey(String)
    /// `OFFSET` is not a decimal number.
    case offsetNotNumber(String)
    /// `OFFSET` is zero or not a multiple of 4096.
    case offsetNotAligned(Int)
    /// `OFFSET` is at or past the end of the file, so there is no image.
    case offsetPastEnd(offset: Int, fileSize: Int64)
    /// `UUID` is not 8 to 64 lowercase hexadecimal digits.
    case uuidNotHex(String)
    /// `UUID` is not the first 16 digits of `XAR_IMAGE_SHA256`.
    case uuidDoesNotMatchDigest(uuid: String, digest: String)
    /// `VERSION` is empty.
    case emptyVersion
    /// `XAR_IMAGE_SHA256` is not 64 lowercase hexadecimal digits.
    case badImageDigest(String)
    /// A key that holds a number (`XAR_BUILD_TIME`, `XAR_MOUNT_TIMEOUT`) holds something else.
    case notANumber(key: String, value: String)
    /// `XAREXEC_TARGET` is empty, absolute, or has a `.` or `..` component.
    case badTarget(String)
    /// `MOUNT_ROOT` is not an absolute path.
    case badMountRoot(String)
    /// A launcher for the shebang (`xarbuild --launcher`) that is not an absolute path without spaces or control
    /// characters: the kernel splits a shebang at the first space.
    case badLauncher(String)
    /// `XAREXEC_TRAMPOLINE_NAMES` breaks Facebook's format (`'name' 'name'`, one space apart, no quotes inside,
    /// `invoke_xar_via_trampoline` among them); `reason` says how.
    case badTrampolineNames(reason: String)
    /// `XAR_LOCAL_COPY` is not `always`, `never` or `network`.
    case badLocalCopyPolicy(String)
    /// A key given to the builder is not a shell variable name.
    case badKeyName(String)
    /// The rendered header (up to `#xar_stop`) does not fit in 4096 bytes, or the whole text does not fit in
    /// `OFFSET` bytes.
    case headerTooLong(size: Int, limit: Int)

    /// One sentence saying what is wrong.
    public var description: String {
        switch self {
        case .missingShebang:
            return "the file does not start with a '#!' line, so it is not a XAR file."
        case .shebangTooLong(let length):
            return "the header's '#!' line is \(length) bytes long; the kernel reads at most 128."
        case .missingStop:
            return "the header has no '#xar_stop' line in its first 4096 bytes."
        case .malformedLine(let line):
            return "line \(line) of the header is not of the form NAME=\"value\"."
        case .badQuoting(let key, let line):
            return "the value of \(key) on line \(line) of the header is not one double-quoted string."
        case .unsafeValue(let key):
            return "the value of \(key) holds a character the shell would interpret (`, \\, $ or a control character)."
        case .notUTF8(let key):
            return "the value of \(key) is not valid UTF-8."
        case .duplicateKey(let key):
            return "the header sets \(key) more than once."
        case .missingKey(let key):
            return "the header has no \(key) key."
        case .offsetNotNumber(let value):
            return "the header's OFFSET \"\(value)\" is not a decimal number."
        case .offsetNotAligned(let offset):
            return "the header's OFFSET \(offset) is not a positive multiple of 4096."
        case .offsetPastEnd(let offset, let fileSize):
            return
                "the header's OFFSET \(offset) is not before the end of the file (\(fileSize) bytes): there is no image."
        case .uuidNotHex(let value):
            return "the header's UUID \"\(value)\" is not 8 to 64 lowercase hexadecimal digits."
        case .uuidDoesNotMatchDigest(let uuid, let digest):
            return "the header's UUID \(uuid) is not the start of its XAR_IMAGE_SHA256 \(digest)."
        case .emptyVersion:
            return "the header's VERSION is empty."
        case .badImageDigest(let value):
            return "the header's XAR_IMAGE_SHA256 \"\(value)\" is not 64 lowercase hexadecimal digits."
        case .notANumber(let key, let value):
            return "the header's \(key) \"\(value)\" is not a non-negative decimal number."
        case .badTarget(let value):
            return "the header's XAREXEC_TARGET \"\(value)\" is not a relative path inside the image."
        case .badMountRoot(let value):
            return "the header's MOUNT_ROOT \"\(value)\" is not an absolute path."
        case .badLauncher(let value):
            return "the launcher \"\(value)\" is not an absolute path without spaces, so it cannot be a shebang."
        case .badTrampolineNames(let reason):
            return "the header's XAREXEC_TRAMPOLINE_NAMES is malformed: \(reason)."
        case .badLocalCopyPolicy(let value):
            return "the header's XAR_LOCAL_COPY \"\(value)\" is not one of always, never, network."
        case .badKeyName(let key):
            return "\"\(key)\" is not a valid header key (a shell variable name)."
        case .headerTooLong(let size, let limit):
            return "the header text is \(size) bytes long; it must fit in \(limit)."
        }
    }
}
