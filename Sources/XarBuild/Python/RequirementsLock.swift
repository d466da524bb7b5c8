import Foundation
import XarSystem

/// A lock of third-party dependencies in the format pip-tools (`pip-compile --generate-hashes`) and
/// `uv pip compile --generate-hashes` write: one `name==version` pin per requirement, its allowed
/// `--hash=sha256:…` values, optional `; marker`, `\` line continuations and `#` comments.
///
/// The builder resolves nothing, so a lock must pin every package exactly (`==`) and carry hashes; anything
/// else (ranges, URLs, editable installs, includes) is refused with a sentence saying what to do.
public struct RequirementsLock: Sendable {
    /// One pinned package.
    public struct Pin: Sendable, Hashable {
        /// The name as written.
        public var name: String
        /// The PEP 503 normalized name.
        public var normalizedName: String
        /// The pinned version.
        public var version: String
        /// Allowed SHA-256 digests, lowercase hex.
        public var hashes: [String]
        /// The environment marker, if any (without the `;`).
        public var marker: String?
        /// The line the pin starts on, for messages.
        public var line: Int
    }

    /// The file the lock was read from.
    public var path: String
    /// Every pin, in file order, markers not yet evaluated.
    public var pins: [Pin]
    /// SHA-256 of the lock file's bytes, recorded in the image's metadata.
    public var digest: String

    /// Options pip accepts in a lock that only say where to download from; meaningless without a network.
    static let ignoredOptions: Set<String> = [
        "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--no-index",
        "--prefer-binary", "--only-binary", "--no-binary", "--pre", "--require-hashes",
    ]

    /// Reads and checks the lock at `path`.
    public init(path: String) throws {
        let data: Data
        do { data = try FileSystem.data(path) } catch {
            throw PythonBuildError("Cannot read the lock file \(path): \(error.reason).")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PythonBuildError("The lock file \(path) is not UTF-8 text.")
        }
        self.path = path
        self.digest = SHA256Digest.hex(of: data)
        self.pins = try Self.parse(text, path: path)
    }

    /// Parses the text of a lock; `path` is only used in messages.
    static func parse(_ text: String, path: String) throws -> [Pin] {
        var logical: [(Int, String)] = []
        var pending = ""
        var pendingLine = 0
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = stripComment(String(raw))
            if pending.isEmpty { pendingLine = i + 1 }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasSuffix("\\") {
                line = String(trimmed.dropLast())
                pending += line + " "
                continue
            }
            pending += line
            if !pending.trimmingCharacters(in: .whitespaces).isEmpty {
                logical.append((pendingLine, pending.trimmingCharacters(in: .whitespaces)))
            }
            pending = ""
        }
        if !pending.trimmingCharacters(in: .whitespaces).isEmpty {
            logical.append((pendingLine, pending.trimmingCharacters(in: .whitespaces)))
        }

        var pins: [Pin] = []
        var problems: [String] = []
        for (lineNumber, line) in logical {
            let at = "\(path):\(lineNumber)"
            if line.hasPrefix("-") {
                let option = String(line.split(whereSeparator: { $0 == " " || $0 == "=" }).first ?? "")
                if ignoredOptions.contains(option) { continue }
                if option == "-e" || option == "--editable" {
                    problems.append(
                        "\(at): editable requirements cannot be bundled; build a wheel of it and pass it with --wheel.")
                } else if option == "-r" || option == "-c" || option == "--requirement" || option == "--constraint" {
                    problems.append(
                        "\(at): `\(option)` includes are not supported; compile one complete lock with pip-compile or uv."
                    )
                } else {
                    problems.append("\(at): the option `\(option)` is not supported in a lock.")
                }
                continue
            }
            do {
                pins.append(try parseRequirement(line, at: at, lineNumber: lineNumber))
            } catch let error as PythonBuildError {
                problems += error.problems
            }
        }
        guard problems.isEmpty else { throw PythonBuildError(problems: problems) }
        return pins
    }

    private static func parseRequirement(_ line: String, at: String, lineNumber: Int) throws -> Pin {
        // Options (`--hash=…`) follow the requirement and its marker.
        var requirement = line
        var options = ""
        if let range = line.range(of: " --") {
            requirement = String(line[..<range.lowerBound])
            options = String(line[range.lowerBound...])
        }
        var marker: String?
        if let semi = requirement.firstIndex(of: ";") {
            marker = requirement[requirement.index(after: semi)...].trimmingCharacters(in: .whitespaces)
            requirement = String(requirement[..<semi])
        }
        requirement = requirement.trimmingCharacters(in: .whitespaces)
        if requirement.contains(" @ ") || requirement.contains("://") {
            throw PythonBuildError("\(at): `\(requirement)` is a URL requirement; pin it as name==version with hashes.")
        }
        guard let eq = requirement.range(of: "=="), !requirement[eq.upperBound...].hasPrefix("=") else {
            throw PythonBuildError("\(at): `\(requirement)` is not pinned with ==; the lock must pin exact versions.")
        }
        var name = requirement[..<eq.lowerBound].trimmingCharacters(in: .whitespaces)
        if let bracket = name.firstIndex(of: "[") { name = String(name[..<bracket]) }
        let version = requirement[eq.upperBound...].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !version.isEmpty, !version.contains("*"), !version.contains(",") else {
            throw PythonBuildError("\(at): `\(requirement)` is not pinned to one exact version.")
        }
        var hashes: [String] = []
        let words = options.split(separator: " ").map(String.init)
        var i = 0
        while i < words.count {
            var word = words[i]
            if word == "--hash", i + 1 < words.count {
                i += 1
                word = "--hash=" + words[i]
            }
            if word.hasPrefix("--hash=") {
                let value = String(word.dropFirst("--hash=".count))
                guard value.hasPrefix("sha256:") else {
                    throw PythonBuildError(
                        "\(at): `\(value)` is not a sha256 hash; regenerate the lock with sha256 hashes.")
                }
                hashes.append(String(value.dropFirst("sha256:".count)).lowercased())
            } else if !word.isEmpty {
                throw PythonBuildError("\(at): the option `\(word)` is not supported after a requirement.")
            }
            i += 1
        }
        guard !hashes.isEmpty else {
            throw PythonBuildError(
                "\(at): `\(name)==\(version)` has no --hash; generate the lock with --generate-hashes.")
        }
        return Pin(
            name: name, normalizedName: WheelFilename.normalize(name), version: version, hashes: hashes,
            marker: marker, line: lineNumber)
    }

    /// Drops a `#` comment: one at the start of a line or preceded by whitespace (pip's rule).
    private static func stripComment(_ line: String) -> String {
        var previous: Character = " "
        for (offset, ch) in line.enumerated() {
            if ch == "#" && previous.isWhitespace {
                return String(line.prefix(offset))
            }
            previous = ch
        }
        return line
    }
}
