import Foundation

/// A TOML 1.0 document, read by a small parser written for the files `xarbuild python` reads: `pyproject.toml`,
/// `pylock.toml` (PEP 751) and `uv.lock`.
///
/// Supported: comments, bare/quoted/dotted keys, `[tables]`, `[[arrays of tables]]`, inline tables, arrays,
/// basic and literal strings (single- and multi-line, with every escape), integers (decimal, hex, octal,
/// binary), floats, booleans, and dates/times (kept as their text: no lock field needs them as instants).
/// Redefined keys and tables are errors, as the specification says. Every error is one sentence starting
/// with `file:line:column:`.
///
/// Written here rather than taken from a package: the TOML packages for Swift wrap a C++ library, and
/// Python's `tomllib` is missing before 3.11.
public struct TOMLTable: Sendable, Equatable {
    /// The keys and values, in no particular order.
    public var values: [String: TOMLValue]
    /// The line the table starts on (its header, or the line of an inline table), for messages.
    public var line: Int

    public subscript(key: String) -> TOMLValue? { values[key] }

    /// The string at `key`, nil when missing or of another type.
    public func string(_ key: String) -> String? {
        if case .string(let s) = values[key] { return s }
        return nil
    }

    /// The table at `key`, nil when missing or of another type.
    public func table(_ key: String) -> TOMLTable? {
        if case .table(let t) = values[key] { return t }
        return nil
    }

    /// The array at `key`, nil when missing or of another type.
    public func array(_ key: String) -> [TOMLValue]? {
        if case .array(let a) = values[key] { return a }
        return nil
    }

    /// The tables of the array at `key` (an array of tables or an array of inline tables); other elements are
    /// left out.
    public func tables(_ key: String) -> [TOMLTable] {
        (array(key) ?? []).compactMap { if case .table(let t) = $0 { return t } else { return nil } }
    }

    /// Parses `text`; `path` names the file in error messages.
    public static func parse(_ text: String, path: String) throws -> TOMLTable {
        var parser = TOMLParser(bytes: Array(text.utf8), path: path)
        return try parser.document()
    }
}

/// A TOML value.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    /// An offset or local date-time, date or time, as written.
    case datetime(String)
    case array([TOMLValue])
    case table(TOMLTable)

    /// The string, nil for other types.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The table, nil for other types.
    public var table: TOMLTable? {
        if case .table(let t) = self { return t }
        return nil
    }
}

/// The parser: a mutable tree of tables while reading (to enforce the rules on redefinition), values after.
struct TOMLParser {
    /// A table being built.
    final class Node {
        enum Kind { case implicit, dotted, explicit, inline }
        var kind: Kind
        let line: Int
        var entries: [String: Entry] = [:]
        init(_ kind: Kind, line: Int) {
            self.kind = kind
            self.line = line
        }
    }

    enum Entry {
        case value(TOMLValue)
        case table(Node)
        case arrayOfTables([Node])
    }

    let bytes: [UInt8]
    let path: String
    var index = 0
    var line = 1
    var lineStart = 0

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    // MARK: Errors and scanning.

    func error(_ message: String, at offset: Int? = nil) -> PythonBuildError {
        let column = (offset ?? index) - lineStart + 1
        return PythonBuildError("\(path):\(line):\(column): \(message)")
    }

    var atEnd: Bool { index >= bytes.count }
    var current: UInt8 { index < bytes.count ? bytes[index] : 0 }
    func peek(_ offset: Int) -> UInt8 { index + offset < bytes.count ? bytes[index + offset] : 0 }

    func describe(_ byte: UInt8) -> String {
        if byte == 0 && atEnd { return "the end of the file" }
        if byte == 0x0D && current == 0x0D && peek(1) != 0x0A { return "a carriage return without a line feed" }
        if byte == 0x0A || byte == 0x0D { return "the end of the line" }
        if byte >= 0x20 && byte < 0x7F { return "`\(Character(Unicode.Scalar(byte)))`" }
        return String(format: "the byte 0x%02X", byte)
    }

    mutating func skipSpaces() {
        while current == 0x20 || current == 0x09 { index += 1 }
    }

    /// Skips a comment, if any; control characters other than tab are not allowed in one.
    mutating func skipComment() throws {
        guard current == UInt8(ascii: "#") else { return }
        while !atEnd && current != 0x0A {
            if current == 0x0D && peek(1) == 0x0A { break }
            if current < 0x20 && current != 0x09 || current == 0x7F {
                throw error("a comment holds the control character \(describe(current)).")
            }
            index += 1
        }
    }

    /// Consumes a newline (LF or CRLF); false when there is none here.
    mutating func newline() -> Bool {
        if current == 0x0A {
            index += 1
        } else if current == 0x0D && peek(1) == 0x0A {
            index += 2
        } else {
            return false
        }
        line += 1
        lineStart = index
        return true
    }

    /// Skips spaces, comments and newlines (inside arrays).
    mutating func skipBlank() throws {
        while true {
            skipSpaces()
            try skipComment()
            if !newline() { return }
        }
    }

    // MARK: Document.

    mutating func document() throws -> TOMLTable {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        let root = Node(.explicit, line: 1)
        var currentTable = root
        while true {
            skipSpaces()
            if atEnd { break }
            if current == UInt8(ascii: "[") {
                let start = index
                let headerLine = line
                if peek(1) == UInt8(ascii: "[") {
                    index += 2
                    skipSpaces()
                    let key = try self.key()
                    skipSpaces()
                    guard current == UInt8(ascii: "]"), peek(1) == UInt8(ascii: "]") else {
                        throw error("expected `]]` to close the array-of-tables header, found \(describe(current)).")
                    }
                    index += 2
                    currentTable = try appendArrayTable(root, key, line: headerLine, at: start)
                } else {
                    index += 1
                    skipSpaces()
                    let key = try self.key()
                    skipSpaces()
                    guard current == UInt8(ascii: "]") else {
                        throw error("expected `]` to close the table header, found \(describe(current)).")
                    }
                    index += 1
                    currentTable = try defineTable(root, key, line: headerLine, at: start)
                }
            } else if current != UInt8(ascii: "#") && current != 0x0A && current != 0x0D {
                try keyValue(into: currentTable)
            }
            skipSpaces()
            try skipComment()
            if atEnd { break }
            guard newline() else { throw error("expected the end of the line, found \(describe(current)).") }
        }
        return Self.freeze(root)
    }

    static func freeze(_ node: Node) -> TOMLTable {
        var values: [String: TOMLValue] = [:]
        for (key, entry) in node.entries {
            switch entry {
            case .value(let value): values[key] = value
            case .table(let child): values[key] = .table(freeze(child))
            case .arrayOfTables(let nodes): values[key] = .array(nodes.map { .table(freeze($0)) })
            }
        }
        return TOMLTable(values: values, line: node.line)
    }

    func dotted(_ key: [String]) -> String {
        key.map { k in
            k.utf8.allSatisfy { Self.isBare($0) } && !k.isEmpty ? k : "\"\(k)\""
        }.joined(separator: ".")
    }

    /// Walks to the parent of the last key of a header, creating implicit tables.
    mutating func walk(_ root: Node, _ key: [String], at start: Int) throws -> Node {
        var node = root
        for (i, part) in key.dropLast().enumerated() {
            switch node.entries[part] {
            case nil:
                let child = Node(.implicit, line: line)
                node.entries[part] = .table(child)
                node = child
            case .table(let child):
                if child.kind == .inline {
                    throw error(
                        "`\(dotted(Array(key[...i])))` is an inline table, which cannot be extended.", at: start)
                }
                node = child
            case .arrayOfTables(let nodes):
                node = nodes[nodes.count - 1]
            case .value:
                throw error("`\(dotted(Array(key[...i])))` is already a value, not a table.", at: start)
            }
        }
        return node
    }

    mutating func defineTable(_ root: Node, _ key: [String], line: Int, at start: Int) throws -> Node {
        let parent = try walk(root, key, at: start)
        let last = key[key.count - 1]
        switch parent.entries[last] {
        case nil:
            let node = Node(.explicit, line: line)
            parent.entries[last] = .table(node)
            return node
        case .table(let node) where node.kind == .implicit:
            node.kind = .explicit
            return node
        default:
            throw error("the table [\(dotted(key))] is defined more than once.", at: start)
        }
    }

    mutating func appendArrayTable(_ root: Node, _ key: [String], line: Int, at start: Int) throws -> Node {
        let parent = try walk(root, key, at: start)
        let last = key[key.count - 1]
        let node = Node(.explicit, line: line)
        switch parent.entries[last] {
        case nil:
            parent.entries[last] = .arrayOfTables([node])
        case .arrayOfTables(let nodes):
            parent.entries[last] = .arrayOfTables(nodes + [node])
        default:
            throw error(
                "[[\(dotted(key))]] names a key that is already defined and is not an array of tables.", at: start)
        }
        return node
    }

    /// `key = value` into `table` (dotted keys create tables on the way).
    mutating func keyValue(into table: Node) throws {
        let start = index
        let key = try self.key()
        skipSpaces()
        guard current == UInt8(ascii: "=") else {
            throw error("expected `=` after the key `\(dotted(key))`, found \(describe(current)).")
        }
        index += 1
        skipSpaces()
        let value = try self.value()
        var node = table
        for (i, part) in key.dropLast().enumerated() {
            switch node.entries[part] {
            case nil:
                let child = Node(.dotted, line: line)
                node.entries[part] = .table(child)
                node = child
            case .table(let child) where child.kind == .dotted || child.kind == .implicit:
                child.kind = .dotted
                node = child
            default:
                throw error(
                    "`\(dotted(Array(key[...i])))` is already defined; it cannot be extended by a dotted key.",
                    at: start)
            }
        }
        let last = key[key.count - 1]
        guard node.entries[last] == nil else {
            throw error("the key `\(dotted(key))` is defined more than once.", at: start)
        }
        node.entries[last] = .value(value)
    }

    static func isBare(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    /// A possibly dotted key.
    mutating func key() throws -> [String] {
        var parts: [String] = []
        while true {
            if current == UInt8(ascii: "\"") {
                parts.append(try basicString())
            } else if current == UInt8(ascii: "'") {
                parts.append(try literalString())
            } else {
                let start = index
                while Self.isBare(current) { index += 1 }
                guard index > start else { throw error("expected a key, found \(describe(current)).") }
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
            }
            skipSpaces()
            guard current == UInt8(ascii: ".") else { return parts }
            index += 1
            skipSpaces()
        }
    }

    // MARK: Values.

    mutating func value() throws -> TOMLValue {
        switch current {
        case UInt8(ascii: "\""):
            if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") { return .string(try multilineBasic()) }
            return .string(try basicString())
        case UInt8(ascii: "'"):
            if peek(1) == UInt8(ascii: "'"), peek(2) == UInt8(ascii: "'") { return .string(try multilineLiteral()) }
            return .string(try literalString())
        case UInt8(ascii: "["):
            return try array()
        case UInt8(ascii: "{"):
            return try inlineTable()
        default:
            return try scalar()
        }
    }

    mutating func array() throws -> TOMLValue {
        index += 1
        var items: [TOMLValue] = []
        while true {
            try skipBlank()
            if current == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            if atEnd { throw error("the array is not closed with `]`.") }
            items.append(try value())
            try skipBlank()
            if atEnd { throw error("the array is not closed with `]`.") }
            if current == UInt8(ascii: ",") {
                index += 1
            } else if current == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            } else {
                throw error("expected `,` or `]` in an array, found \(describe(current)).")
            }
        }
    }

    mutating func inlineTable() throws -> TOMLValue {
        let node = Node(.inline, line: line)
        index += 1
        skipSpaces()
        if current == UInt8(ascii: "}") {
            index += 1
            return .table(Self.freeze(node))
        }
        while true {
            skipSpaces()
            try keyValue(into: node)
            skipSpaces()
            if current == UInt8(ascii: ",") {
                index += 1
            } else if current == UInt8(ascii: "}") {
                index += 1
                markInline(node)
                return .table(Self.freeze(node))
            } else {
                throw error("expected `,` or `}` in an inline table, found \(describe(current)).")
            }
        }
    }

    func markInline(_ node: Node) {
        node.kind = .inline
        for case .table(let child) in node.entries.values { markInline(child) }
    }

    /// Integers, floats, booleans and dates/times: a run of the characters they are made of, then classified.
    mutating func scalar() throws -> TOMLValue {
        let start = index
        func isWordByte(_ b: UInt8) -> Bool {
            Self.isBare(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
        }
        while isWordByte(current) {
            index += 1
            // A date and a time may be separated by one space: `1979-05-27 07:32:00Z`.
            if current == 0x20, index - start == 10, bytes[start + 4] == UInt8(ascii: "-"),
                peek(1) >= 0x30 && peek(1) <= 0x39
            {
                index += 1
            }
        }
        let word = String(decoding: bytes[start..<index], as: UTF8.self)
        if word.isEmpty { throw error("expected a value, found \(describe(current)).") }
        if word == "true" { return .boolean(true) }
        if word == "false" { return .boolean(false) }
        if let value = Self.integer(word) { return .integer(value) }
        if let value = Self.float(word) { return .float(value) }
        if Self.isDateTime(word) { return .datetime(word) }
        throw error("`\(word)` is not a TOML value (a string must be quoted).", at: start)
    }

    static func integer(_ word: String) -> Int? {
        func digits(_ s: Substring, radix: Int) -> Int? {
            guard let first = s.first, let last = s.last, first != "_", last != "_", !s.contains("__") else {
                return nil
            }
            return Int(s.replacingOccurrences(of: "_", with: ""), radix: radix)
        }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where word.hasPrefix(prefix) {
            return digits(word.dropFirst(2), radix: radix)
        }
        var body = Substring(word)
        var negative = false
        if body.first == "+" || body.first == "-" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        guard body.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }) else { return nil }
        if body.count > 1 && body.first == "0" { return nil }
        guard let value = digits(body, radix: 10) else { return nil }
        return negative ? -value : value
    }

    static func float(_ word: String) -> Double? {
        var body = Substring(word)
        var sign = 1.0
        if body.first == "+" || body.first == "-" {
            sign = body.first == "-" ? -1 : 1
            body = body.dropFirst()
        }
        if body == "inf" { return sign * .infinity }
        if body == "nan" { return .nan }
        let allowed = Set("0123456789_.eE+-")
        guard body.allSatisfy({ allowed.contains($0) }), body.first?.isNumber == true, body.last?.isNumber == true,
            body.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), !body.contains("_."), !body.contains("._"),
            !body.contains("__")
        else { return nil }
        let integral = body.prefix { $0.isNumber || $0 == "_" }
        if integral.count > 1 && integral.first == "0" { return nil }
        return Double(body.replacingOccurrences(of: "_", with: "")).map { sign * $0 }
    }

    /// `1979-05-27`, `1979-05-27T07:32:00.999Z` (or with a space, `+01:00`), `07:32:00`: TOML's date/time forms.
    static func isDateTime(_ word: String) -> Bool {
        // Every digit becomes `9`: what is left is a shape.
        var shape = String(word.map { $0.isASCII && $0.isNumber ? "9" : $0 })
        func take(_ prefix: String) -> Bool {
            guard shape.hasPrefix(prefix) else { return false }
            shape.removeFirst(prefix.count)
            return true
        }
        func time() -> Bool {
            guard take("99:99") else { return false }
            if take(":99"), take(".") {
                guard take("9") else { return false }
                while take("9") {}
            }
            return true
        }
        if take("9999-99-99") {
            if shape.isEmpty { return true }
            guard take("T") || take("t") || take(" "), time() else { return false }
            _ = take("Z") || take("z") || take("+99:99") || take("-99:99")
            return shape.isEmpty
        }
        return time() && shape.isEmpty
    }

    // MARK: Strings.

    mutating func basicString() throws -> String {
        let start = index
        index += 1
        var out: [UInt8] = []
        while true {
            if atEnd || current == 0x0A || current == 0x0D {
                throw error("the string is not closed on its line.", at: start)
            }
            let byte = current
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: out, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") {
                try escape(into: &out)
                continue
            }
            if byte < 0x20 && byte != 0x09 || byte == 0x7F {
                throw error("a string holds the control character \(describe(byte)); write it as an escape.")
            }
            out.append(byte)
            index += 1
        }
    }

    mutating func escape(into out: inout [UInt8]) throws {
        let start = index
        index += 1
        let c = current
        index += 1
        switch c {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = c == UInt8(ascii: "u") ? 4 : 8
            guard index + count <= bytes.count,
                let code = UInt32(String(decoding: bytes[index..<(index + count)], as: UTF8.self), radix: 16),
                let scalar = Unicode.Scalar(code)
            else { throw error("the escape is not a valid Unicode scalar value.", at: start) }
            index += count
            out += Array(String(Character(scalar)).utf8)
        default:
            throw error("`\\\(Character(Unicode.Scalar(c)))` is not a TOML escape.", at: start)
        }
    }

    mutating func literalString() throws -> String {
        let start = index
        index += 1
        let from = index
        while current != UInt8(ascii: "'") {
            if atEnd || current == 0x0A || current == 0x0D {
                throw error("the string is not closed on its line.", at: start)
            }
            if current < 0x20 && current != 0x09 || current == 0x7F {
                throw error("a string holds the control character \(describe(current)).")
            }
            index += 1
        }
        index += 1
        return String(decoding: bytes[from..<(index - 1)], as: UTF8.self)
    }

    mutating func multilineBasic() throws -> String {
        let start = index
        index += 3
        _ = newline()
        var out: [UInt8] = []
        while true {
            if atEnd { throw error("the multi-line string is not closed with `\"\"\"`.", at: start) }
            if current == UInt8(ascii: "\""), peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") {
                // Up to two more quotes belong to the string.
                var quotes = 3
                while quotes < 5 && peek(quotes) == UInt8(ascii: "\"") { quotes += 1 }
                out += Array(repeating: UInt8(ascii: "\""), count: quotes - 3)
                index += quotes
                return String(decoding: out, as: UTF8.self)
            }
            if current == UInt8(ascii: "\\") {
                // A line-ending backslash trims the newline and the blanks after it.
                var look = index + 1
                while look < bytes.count && (bytes[look] == 0x20 || bytes[look] == 0x09) { look += 1 }
                if look < bytes.count && (bytes[look] == 0x0A || bytes[look] == 0x0D) {
                    index = look
                    while true {
                        skipSpaces()
                        if !newline() { break }
                    }
                    continue
                }
                try escape(into: &out)
                continue
            }
            if current == 0x0A || current == 0x0D && peek(1) == 0x0A {
                out.append(0x0A)
                _ = newline()
                continue
            }
            if current < 0x20 && current != 0x09 || current == 0x7F {
                throw error("a string holds the control character \(describe(current)); write it as an escape.")
            }
            out.append(current)
            index += 1
        }
    }

    mutating func multilineLiteral() throws -> String {
        let start = index
        index += 3
        _ = newline()
        var out: [UInt8] = []
        while true {
            if atEnd { throw error("the multi-line string is not closed with `'''`.", at: start) }
            if current == UInt8(ascii: "'"), peek(1) == UInt8(ascii: "'"), peek(2) == UInt8(ascii: "'") {
                var quotes = 3
                while quotes < 5 && peek(quotes) == UInt8(ascii: "'") { quotes += 1 }
                out += Array(repeating: UInt8(ascii: "'"), count: quotes - 3)
                index += quotes
                return String(decoding: out, as: UTF8.self)
            }
            if current == 0x0A || current == 0x0D && peek(1) == 0x0A {
                out.append(0x0A)
                _ = newline()
                continue
            }
            if current < 0x20 && current != 0x09 || current == 0x7F {
                throw error("a string holds the control character \(describe(current)).")
            }
            out.append(current)
            index += 1
        }
    }
}
