import Foundation
import Testing
import XarBuild
import XarTestSupport

/// The import index (`/.xar/import-index.marshal`, docs/python.md "Imports"): the staged fixture app run with the
/// index and with `XAR_IMPORT_INDEX=0`, which must see the same modules, files, sources, tracebacks, package
/// listings and namespace packages; and the index itself checked against the interpreter's own `FileFinder`.
@Suite(
    .tags(.python, .slow),
    .enabled(if: PythonFixtures.available, "needs python3 with pip, setuptools, wheel, Python.h, cc, zstd.h, patchelf"))
struct PythonImportIndexTests {
    /// The fixture app's `imports` report, run from the staging directory with `extra` in the environment.
    private func imports(_ f: PythonFixtures, _ extra: [String: String] = [:]) throws -> [String: Any] {
        let result = try XarTestSupport.Process.run(
            f.stagedCommand(argv0: "/opt/tools/myapp", entry: "myapp", ["imports"]),
            environment: PythonFixtures.hostileEnvironment.merging(extra) { $1 }, timeout: 60)
        try #require(result.status == 0, "\(result)")
        return try #require(try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    private func json(_ value: Any?) -> String {
        guard let value,
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
        else {
            return "\(String(describing: value))"
        }
        return String(decoding: data, as: UTF8.self)
    }

    @Test func indexedImportsSeeWhatTheStandardFindersSee() throws {
        let f = try PythonFixtures.shared.get()
        let indexed = try imports(f)
        let standard = try imports(f, ["XAR_IMPORT_INDEX": "0"])

        #expect(
            json(indexed["loaders"])
                == json(["json": "BytecodeLoader", "greet": "BytecodeLoader", "zstdcheck": "ExtensionFileLoader"]))
        #expect(
            json(standard["loaders"])
                == json(["json": "SourceFileLoader", "greet": "SourceFileLoader", "zstdcheck": "ExtensionFileLoader"]))
        for key in ["files", "cached", "source", "traceback", "plugins", "top_level", "namespace", "reload", "missing"]
        {
            #expect(json(indexed[key]) == json(standard[key]), "\(key)")
        }

        let stdlib = "\(f.staging)/python/lib/python3.11"
        #expect((indexed["files"] as? [String])?.first == "\(stdlib)/json/__init__.py")
        #expect(indexed["cached"] as? Bool == true)
        #expect(indexed["source"] as? String == "print(\"hello from greet\", sys.argv[0], sys.argv[1:])")
        // The code's file names point at the image's sources, so tracebacks show the failing line.
        let trace = indexed["traceback"] as? [String] ?? []
        #expect(trace.first?.contains("\"\(f.staging)/app/myapp/failing.py\", line 2, in fail") == true, "\(trace)")
        #expect(trace.last?.trimmingCharacters(in: .whitespaces) == "raise ValueError(\"raised on purpose\")")
        #expect(json(indexed["plugins"]) == json([["alpha", false], ["beta", false]]))
        #expect(json(indexed["top_level"]) == json(["greet", "json", "myapp"]))
        let namespace = indexed["namespace"] as? [Any] ?? []
        #expect(json(namespace) == json(["namespace portion", ["\(f.staging)/app/nsapp"], NSNull()]))
        #expect(indexed["reload"] as? String == "alpha")
        #expect(indexed["missing"] as? Bool == true)
        // The bootstrap pauses garbage collection only while the entry module loads.
        #expect(json(indexed["gc"]) == json([700, 10, 10]))
    }

    @Test func indexAgreesWithFileFinderInEveryDirectory() throws {
        let f = try PythonFixtures.shared.get()
        let check = try XarTestSupport.Process.run(
            [
                f.staging + "/python/python3", "-I", "-c",
                """
                import marshal, os, sys
                from importlib.machinery import FileFinder
                from importlib._bootstrap_external import _get_supported_file_loaders
                root = sys.argv[1]
                index = marshal.loads(open(root + '/.xar/import-index.marshal', 'rb').read())
                details = _get_supported_file_loaders()
                checked, wrong = 0, []
                for relative, entries in index.items():
                    directory = os.path.join(root, relative)
                    finder = FileFinder(directory, *details)
                    for name, (kind, file, size, package) in entries.items():
                        spec = finder.find_spec(name)
                        checked += 1
                        want = (None if spec.loader is None else spec.origin, spec.submodule_search_locations is not None)
                        got = (None if kind == 4 else os.path.join(directory, file), package)
                        if want != got:
                            wrong.append((relative, name, want, got))
                    for file in os.listdir(directory):
                        stem = file.partition('.')[0]
                        if file.endswith(('.py', '.so')) and stem not in entries and '-' not in stem:
                            wrong.append((relative, file, 'not indexed'))
                for entry in ('python/lib/python3.11', 'python/lib/python3.11/lib-dynload',
                              'python/lib/python3.11/site-packages', 'app', '.xar'):
                    if entry not in index:
                        wrong.append((entry, 'search path entry not indexed'))
                print(checked, len(wrong), wrong[:5])
                """, f.staging,
            ], environment: [:], timeout: 120)
        let fields = check.stdout.split(separator: " ", maxSplits: 2)
        try #require(fields.count == 3, "\(check)")
        #expect((Int(fields[0]) ?? 0) > 500, "\(check.stdout)")
        #expect(fields[1] == "0", "\(check.stdout)")
    }
}
