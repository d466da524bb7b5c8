/// Reading a header from the first bytes of a file.
///
/// This runs on every launch, on the ≤ 4096 bytes that one `pread` returns, so it works on raw bytes and makes
/// one `String` per key and value, no more. The rules are Facebook's `parseXarHeader`, made stricter:
/// a `#!` first line; `NAME="value"` lines, each key once; `#xar_stop` within the first 4096 bytes; `OFFSET`,
/// `UUID` and `VERSION` present; then every known key checked (see `XarHeaderError` for the list).
extension XarHeader {
    /// Parses the header at the start of `bytes` (the first bytes of the file; 4096 are enough).
    ///
    /// - Parameter fileSize: the size of the whole file, when known; `OFFSET` must be below it.
    public init(parsing bytes: UnsafeRawBufferPointer, fileSize: Int64? = nil) throws(XarHeaderError) {
        let window = min(bytes.count, Self.headerSizeBase)
        guard window >= 2, bytes[0] == UInt8(ascii: "#"), bytes[1] == UInt8(ascii: "!") else {
            throw .missingShebang
        }
        guard var end = Self.newline(in: bytes, from: 0, to: window) else { throw .missingStop }
        let shebang = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
        var entries: [Entry] = []
        entries.reserveCapacity(16)
        var lineNumber = 1
        while true {
            let start = end + 1
            lineNumber += 1
            guard let next = Self.newline(in: bytes, from: start, to: window) else { throw .missingStop }
            end = next
            let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            if Self.isStopLine(line) { break }
            entries.append(try Self.parseEntry(line, lineNumber: lineNumber))
        }
        self.shebang = shebang
        self.entries = entries
        self.offset = 0
        // The lines were checked byte by byte above; only the keys' meanings remain.
        self.offset = try validate(linesChecked: true)
        if let fileSize, Int64(offset) >= fileSize { throw .offsetPastEnd(offset: offset, fileSize: fileSize) }
    }

    /// Parses the header at the start of `bytes`; see `init(parsing:fileSize:)`.
    public init(parsing bytes: [UInt8], fileSize: Int64? = nil) throws(XarHeaderError) {
        let result: Result<XarHeader, XarHeaderError> = bytes.withUnsafeBytes { raw in
            do throws(XarHeaderError) {
                return .success(try XarHeader(parsing: raw, fileSize: fileSize))
            } catch {
                return .failure(error)
            }
        }
        self = try result.get()
    }

    /// Checks every entry and returns the offset; shared by the parser and the builder so both accept exactly
    /// the same headers.
    ///
    /// One pass picks out the known keys (each entry compared once per key at most), then each value is checked;
    /// this runs on every launch, so it avoids repeated lookups.
    func validate(linesChecked: Bool = false) throws(XarHeaderError) -> Int {
        guard shebang.utf8.count >= 2, shebang.utf8.starts(with: "#!".utf8), !shebang.utf8.contains(10) else {
            throw .missingShebang
        }
        guard shebang.utf8.count <= 128 else { throw .shebangTooLong(length: shebang.utf8.count) }
        var offsetText: String?, uuid: String?, version: String?, digest: String?, target: String?
        var root: String?, trampolines: String?, buildTime: String?, timeout: String?, localCopy: String?
        for (i, entry) in entries.enumerated() {
            if !linesChecked {
                guard Self.isVariableName(entry.key.utf8) else { throw .badKeyName(entry.key) }
                guard Self.isShellSafe(entry.value.utf8) else { throw .unsafeValue(key: entry.key) }
            }
            for other in entries[..<i] where other.key == entry.key { throw .duplicateKey(entry.key) }
            switch entry.key {
            case Key.offset: offsetText = entry.value
            case Key.uuid: uuid = entry.value
            case Key.version: version = entry.value
            case Key.imageSHA256: digest = entry.value
            case Key.target: target = entry.value
            case Key.mountRoot: root = entry.value
            case Key.trampolineNames: trampolines = entry.value
            case Key.buildTime: buildTime = entry.value
            case Key.mountTimeout: timeout = entry.value
            case Key.localCopy: localCopy = entry.value
            default: break
            }
        }
        guard let offsetText else { throw .missingKey(Key.offset) }
        guard let uuid else { throw .missingKey(Key.uuid) }
        guard let version else { throw .missingKey(Key.version) }

        guard let offset = Self.decimal(offsetText.utf8) else { throw .offsetNotNumber(offsetText) }
        guard offset > 0, offset % Self.headerSizeBase == 0 else { throw .offsetNotAligned(offset) }
        guard (8...64).contains(uuid.utf8.count), Self.isLowerHex(uuid.utf8) else { throw .uuidNotHex(uuid) }
        guard !version.isEmpty else { throw .emptyVersion }

        if let digest {
            guard digest.utf8.count == 64, Self.isLowerHex(digest.utf8) else { throw .badImageDigest(digest) }
            guard digest.utf8.starts(with: uuid.utf8) else {
                throw .uuidDoesNotMatchDigest(uuid: uuid, digest: digest)
            }
        }
        if let target, !Self.isRelativeInside(target) { throw .badTarget(target) }
        if let root, !root.utf8.starts(with: "/".utf8) { throw .badMountRoot(root) }
        if let trampolines { _ = try Self.parseTrampolineNames(trampolines) }
        for (key, text) in [(Key.buildTime, buildTime), (Key.mountTimeout, timeout)] {
            if let text, Self.decimal(text.utf8) == nil { throw .notANumber(key: key, value: text) }
        }
        if let localCopy, LocalCopyPolicy(rawValue: localCopy) == nil { throw .badLocalCopyPolicy(localCopy) }
        return offset
    }

    /// Splits Facebook's trampoline list: names wrapped in single quotes, exactly one space apart, no quotes
    /// inside, `invoke_xar_via_trampoline` among them.
    static func parseTrampolineNames(_ raw: String) throws(XarHeaderError) -> [String] {
        let bytes = Array(raw.utf8)
        guard bytes.count > 2 else { throw .badTrampolineNames(reason: "there must be at least one name") }
        guard bytes.first == UInt8(ascii: "'"), bytes.last == UInt8(ascii: "'") else {
            throw .badTrampolineNames(reason: "the list must start and end with a single quote")
        }
        var names: [String] = []
        var current: [UInt8] = []
        var i = 1
        let last = bytes.count - 1
        while i < last {
            if bytes[i] == UInt8(ascii: "'"), i + 2 < last, bytes[i + 1] == UInt8(ascii: " "),
                bytes[i + 2] == UInt8(ascii: "'")
            {
                names.append(String(decoding: current, as: UTF8.self))
                current = []
                i += 3
                continue
            }
            if bytes[i] == UInt8(ascii: "'") || bytes[i] == UInt8(ascii: "\"") {
                throw .badTrampolineNames(reason: "names are quoted one by one, one space apart, with no quotes inside")
            }
            current.append(bytes[i])
            i += 1
        }
        names.append(String(decoding: current, as: UTF8.self))
        if names.contains(where: \.isEmpty) { throw .badTrampolineNames(reason: "a name is empty") }
        guard names.contains(guaranteedTrampolineName) else {
            throw .badTrampolineNames(reason: "'\(guaranteedTrampolineName)' is missing")
        }
        return names
    }

    // MARK: Byte-level helpers

    private static func newline(in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var i = start
        while i < end {
            if bytes[i] == 10 { return i }
            i += 1
        }
        return nil
    }

    private static func isStopLine(_ line: UnsafeRawBufferPointer) -> Bool {
        line.elementsEqual(stopLine.utf8)
    }

    /// `NAME="value"`: a shell variable name, `=`, a double-quoted value with no double quote inside.
    private static func parseEntry(_ line: UnsafeRawBufferPointer, lineNumber: Int) throws(XarHeaderError) -> Entry {
        guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { throw .malformedLine(line: lineNumber) }
        let name = UnsafeRawBufferPointer(rebasing: line[..<equals])
        guard isVariableName(name) else { throw .malformedLine(line: lineNumber) }
        let key = String(decoding: name, as: UTF8.self)
        let quoted = UnsafeRawBufferPointer(rebasing: line[(equals + 1)...])
        let quote = UInt8(ascii: "\"")
        guard quoted.count >= 2, quoted.first == quote, quoted.last == quote else {
            throw .badQuoting(key: key, line: lineNumber)
        }
        let inner = UnsafeRawBufferPointer(rebasing: quoted[1..<(quoted.count - 1)])
        guard !inner.contains(quote) else { throw .badQuoting(key: key, line: lineNumber) }
        guard isShellSafe(inner) else { throw .unsafeValue(key: key) }
        let value: String
        if inner.allSatisfy({ $0 < 0x80 }) {
            value = String(decoding: inner, as: UTF8.self)  // ASCII, the usual case: nothing to validate
        } else {
            guard let decoded = String(validating: inner, as: UTF8.self) else { throw .notUTF8(key: key) }
            value = decoded
        }
        return Entry(key: key, value: value)
    }

    static func isVariableName(_ name: some Collection<UInt8>) -> Bool {
        guard let first = name.first, isLetterOrUnderscore(first) else { return false }
        return name.allSatisfy { isLetterOrUnderscore($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    private static func isLetterOrUnderscore(_ c: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c)
            || c == UInt8(ascii: "_")
    }

    /// True when `sh` would take the bytes literally inside double quotes, except for `$NAME` expansions
    /// (which `XAREXEC_ARGS` uses and which only expand to empty strings when the header is run by `sh`).
    static func isShellSafe(_ value: some Collection<UInt8>) -> Bool {
        var previousWasDollar = false
        for c in value {
            if previousWasDollar && !isLetterOrUnderscore(c) { return false }
            previousWasDollar = c == UInt8(ascii: "$")
            if c < 0x20 || c == 0x7f || c == UInt8(ascii: "`") || c == UInt8(ascii: "\\") || c == UInt8(ascii: "\"") {
                return false
            }
        }
        return !previousWasDollar
    }

    static func isLowerHex(_ text: String.UTF8View) -> Bool {
        var copy = String(text)
        return copy.withUTF8 { bytes in
            for c in bytes where !((0x30...0x39).contains(c) || (0x61...0x66).contains(c)) { return false }
            return true
        }
    }

    /// A non-negative decimal number with no sign, spaces or leading zeros beyond a lone `0`, at most 18 digits.
    static func decimal(_ text: some Collection<UInt8>) -> Int? {
        guard !text.isEmpty, text.count <= 18 else { return nil }
        if text.count > 1, text.first == UInt8(ascii: "0") { return nil }
        var n = 0
        for c in text {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { return nil }
            n = n * 10 + Int(c - UInt8(ascii: "0"))
        }
        return n
    }

    /// A non-empty relative path with no empty, `.` or `..` component: it cannot leave the mount.
    private static func isRelativeInside(_ path: String) -> Bool {
        var copy = path
        return copy.withUTF8 { bytes in
            guard !bytes.isEmpty else { return false }
            var start = 0
            for end in 0...bytes.count where end == bytes.count || bytes[end] == UInt8(ascii: "/") {
                let length = end - start
                if length == 0 { return false }
                if bytes[start] == UInt8(ascii: "."),
                    length == 1 || (length == 2 && bytes[start + 1] == UInt8(ascii: "."))
                {
                    return false
                }
                start = end + 1
            }
            return true
        }
    }
}
