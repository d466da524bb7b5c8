import Foundation
import XarSystem

/// Finds, for every pin of a lock, the wheel in the wheelhouse the bundled interpreter should install — with
/// no resolution and no network.
///
/// A pin is satisfied by a wheel whose name and version match, whose tags the interpreter accepts, and whose
/// SHA-256 is one the lock allows; among several, the best-ranked tag wins (then the file name, so the choice
/// is deterministic). Every pin that cannot be satisfied is reported, all at once, with what to do.
struct WheelhouseMatcher {
    /// A wheel chosen for a pin.
    struct Choice {
        var pin: RequirementsLock.Pin
        var path: String
        var sha256: String
    }

    let tags: WheelTags
    let interpreter: PythonInterpreter

    /// Chooses a wheel for every pin of `lock` whose marker holds for the interpreter.
    func choose(_ lock: RequirementsLock, wheelhouse: String?) throws -> [Choice] {
        let files: [String]
        if let wheelhouse {
            guard let listing = try? FileSystem.directoryEntries(wheelhouse) else {
                throw PythonBuildError("Cannot read the wheelhouse directory \(wheelhouse).")
            }
            files = listing.sorted()
        } else {
            files = []
        }
        var choices: [Choice] = []
        var problems: [String] = []
        let place = wheelhouse ?? "(no --wheelhouse given)"
        let wanted =
            "cp\(interpreter.version[0])\(interpreter.version[1]) on \(interpreter.platform) (glibc \(interpreter.glibc))"
        for pin in lock.pins {
            if let marker = pin.marker, !(try EnvironmentMarker.evaluate(marker, environment: interpreter.markers)) {
                continue
            }
            let version = WheelFilename.normalizeVersion(pin.version)
            let at = "\(lock.path):\(pin.line): \(pin.name)==\(pin.version)"
            let sameProject = files.filter { file in
                projectAndVersion(of: file).map { $0.0 == pin.normalizedName && $0.1 == version } ?? false
            }
            let wheels = sameProject.compactMap { file in WheelFilename(file).map { (file, $0) } }
            if wheels.isEmpty {
                if let sdist = sameProject.first {
                    problems.append(
                        "\(at): only the source distribution \(sdist) is in the wheelhouse; sdists are not built here. "
                            + "Build a wheel (`pip wheel --no-deps \(sdist)`) for \(wanted) and lock its hash.")
                } else {
                    problems.append(
                        "\(at): no wheel in \(place); download it (`pip download --no-deps --only-binary=:all: \(pin.name)==\(pin.version)`)."
                    )
                }
                continue
            }
            let compatible = wheels.compactMap { (file, name) in tags.rank(of: name).map { (file, $0) } }
                .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
            if compatible.isEmpty {
                problems.append(
                    "\(at): no wheel for \(wanted) (found \(wheels.map(\.0).joined(separator: ", "))); "
                        + "download or build one for this interpreter and lock its hash.")
                continue
            }
            var found: Choice?
            var mismatched: [String] = []
            for (file, _) in compatible {
                let path = "\(wheelhouse!)/\(file)"
                guard let data = try? FileSystem.data(path) else {
                    problems.append("\(at): cannot read \(path).")
                    continue
                }
                let digest = SHA256Digest.hex(of: data)
                if pin.hashes.contains(digest) {
                    found = Choice(pin: pin, path: path, sha256: digest)
                    break
                }
                mismatched.append("\(file) has sha256:\(digest)")
            }
            if let found {
                choices.append(found)
            } else if !mismatched.isEmpty {
                problems.append(
                    "\(at): hash mismatch: \(mismatched.joined(separator: ", ")), but the lock allows only "
                        + pin.hashes.map { "sha256:\($0)" }.joined(separator: ", ") + ".")
            }
        }
        guard problems.isEmpty else { throw PythonBuildError(problems: problems) }
        return choices
    }

    /// The normalized project name and version of a wheel or sdist file name, nil for anything else.
    private func projectAndVersion(of file: String) -> (String, String)? {
        if let wheel = WheelFilename(file) {
            return (wheel.normalizedName, WheelFilename.normalizeVersion(wheel.version))
        }
        for ext in [".tar.gz", ".zip", ".tar.bz2", ".tgz"] where file.hasSuffix(ext) {
            let stem = String(file.dropLast(ext.count))
            guard let dash = stem.lastIndex(of: "-") else { return nil }
            return (
                WheelFilename.normalize(String(stem[..<dash])),
                WheelFilename.normalizeVersion(String(stem[stem.index(after: dash)...]))
            )
        }
        return nil
    }
}
