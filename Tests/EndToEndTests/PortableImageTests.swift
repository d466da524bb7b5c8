import Foundation
import Glibc
import Testing
import XarTestSupport

/// Debian's own interpreter (glibc 2.36 here), which the portable layout must make run on Debian 11 (glibc 2.31).
private let debianPython = "/usr/bin/python3.11"
private let canRun =
    Debian11Root.available && XarctlOpsFixture.canRun && access(debianPython, X_OK) == 0
    && TestEnvironment.hasTool("patchelf")

/// The portable layout on an older distribution: images built here run in a Debian 11 root with no Python, through
/// the static launcher, mounting for real; and images that need more than the host has are refused with one line
/// and status 119 (see docs/python.md, "Which hosts an image runs on").
@Suite(.tags(.fuse, .root, .python, .slow), .enabled(if: canRun), .serialized)
struct PortableImageTests {
    /// A real wheel with a C extension (MarkupSafe's `_speedups`), downloaded once into the tests' cache.
    static func markupSafeWheel() throws -> String {
        let directory = "\(Debian11Root.cacheDirectory)/wheels"
        let name = "MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        if access("\(directory)/\(name)", R_OK) != 0 {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let fetched = try XarTestSupport.Process.run(
                [
                    debianPython, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps", "-d", directory,
                    "markupsafe==2.1.5",
                ], timeout: 300)
            try #require(fetched.status == 0, "pip download: \(fetched)")
        }
        return "\(directory)/\(name)"
    }

    /// The application: `check` exercises what must work on the old host and execs `other`, the second entry point.
    static let application = #"""
        import json
        import os
        import sys


        def double(x):
            return 2 * x


        def check():
            import ctypes
            import ctypes.util
            import grp
            import locale
            import multiprocessing
            import pwd
            import socket
            import ssl
            import subprocess
            import sysconfig
            import tempfile
            import markupsafe
            from markupsafe import _speedups

            r = {'executable': sys.executable, 'speedups': str(_speedups.escape('<a>'))}
            child = subprocess.run(
                [sys.executable, '-c', 'import sys, markupsafe._speedups; print(sys.executable)'],
                capture_output=True, text=True)
            r['child'] = [child.returncode, child.stdout.strip(), child.stderr[-400:]]
            with multiprocessing.get_context('spawn').Pool(1) as pool:
                r['spawn'] = pool.apply(double, (21,))
            with multiprocessing.get_context('forkserver').Pool(1) as pool:
                r['forkserver'] = pool.apply(double, (4,))
            r['pwd'] = pwd.getpwuid(0).pw_name
            r['grp'] = grp.getgrgid(0).gr_name
            r['getaddrinfo'] = sorted({a[4][0] for a in socket.getaddrinfo('localhost', 80)})
            # The carried OpenSSL's default CA directory, as the default context uses it (lazily: not counted by
            # cert_store_stats), must be the host's, with its certificates.
            ssl.create_default_context()
            capath = ssl.get_default_verify_paths().capath
            r['ssl_ca'] = [capath, len([n for n in os.listdir(capath) if n.endswith('.0')]) if capath else 0]
            r['locale'] = locale.setlocale(locale.LC_ALL, 'C.UTF-8')
            r['find_library'] = ctypes.util.find_library('m')
            cos = ctypes.CDLL(r['find_library']).cos
            cos.restype, cos.argtypes = ctypes.c_double, [ctypes.c_double]
            r['cos'] = cos(0.0)
            host = subprocess.run(['/bin/sh', '-c', 'echo "[$LD_LIBRARY_PATH]"; ls / >/dev/null && echo ls-ok'],
                                  capture_output=True, text=True)
            r['host_program'] = host.stdout.split()
            r['purelib'] = sysconfig.get_paths()['purelib'] == os.path.dirname(markupsafe.__path__[0])
            with tempfile.TemporaryDirectory() as d:
                made = subprocess.run([sys.executable, '-m', 'venv', '--without-pip', d + '/venv'],
                                      capture_output=True, text=True)
                used = subprocess.run(
                    [d + '/venv/bin/python', '-c',
                     'import sys, sysconfig; print(sys.prefix, sysconfig.get_paths()["purelib"])'],
                    capture_output=True, text=True)
                r['venv'] = [made.returncode, used.returncode, used.stdout.replace(d, 'D').strip(),
                             made.stderr[-300:] + used.stderr[-300:]]
            print(json.dumps(r, sort_keys=True), flush=True)
            os.execv(sys.argv[1], [sys.argv[1], 'from', 'check'])


        def other():
            print('other:', ' '.join(sys.argv[1:]), flush=True)
        """#

    /// Builds the application image with `layout` from Debian's python3.11.
    static func buildApplication(in dir: TemporaryDirectory, layout: String) throws -> (String, String) {
        let source = dir("app-\(layout)")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try application.write(toFile: "\(source)/portable_check.py", atomically: false, encoding: .utf8)
        let output = dir("app-\(layout).xar")
        let built = try XarTestSupport.Process.run(
            [
                TestEnvironment.product("xarbuild"), "python", "--python", debianPython, "--source", source,
                "--wheel", try markupSafeWheel(), "--entry-point", "check=portable_check:check",
                "--entry-point", "other=portable_check:other", "--layout", layout, "--level", "3", "-o", output,
            ], timeout: 600)
        try #require(built.status == 0, "xarbuild: \(built)")
        return (output, built.stdout)
    }

    /// Puts the static launcher and `image` (with an `other` symlink to it) into the root.
    static func install(_ image: String, as name: String, in root: Debian11Root) throws {
        try FileManager.default.createDirectory(atPath: root.path + "/apps", withIntermediateDirectories: true)
        if access(root.path + "/usr/local/bin/xarexec", X_OK) != 0 {
            try TestFiles.copy(TestEnvironment.product("xarexec"), to: root.path + "/usr/local/bin/xarexec")
        }
        try TestFiles.copy(image, to: root.path + "/apps/\(name)")
        #expect(mkdir(root.path + "/tmp/mnt", 0o700) == 0 || errno == EEXIST)
    }

    @Test func aPortableImageRunsOnDebian11WithItsChildrenAndLookUps() throws {
        let dir = TemporaryDirectory(prefix: "portable")
        let (image, summary) = try Self.buildApplication(in: dir, layout: "portable")
        #expect(summary.contains("runs on: Linux ≥ 3.2.0, any glibc (carries glibc 2.36)"), "\(summary)")
        let root = try Debian11Root()
        defer { root.unmountAll() }
        try Self.install(image, as: "app.xar", in: root)
        try FileManager.default.createSymbolicLink(atPath: root.path + "/apps/other", withDestinationPath: "app.xar")
        // No Python on this host: the image brings its own.
        #expect(access(root.path + "/usr/bin/python3", F_OK) != 0)

        let result = try root.run(
            ["/apps/app.xar", "/apps/other"], environment: ["XAR_MOUNT_ROOT": "/tmp/mnt"])
        try #require(result.status == 0, "\(result)")
        let lines = result.stdout.split(whereSeparator: \.isNewline)
        try #require(lines.count == 2, "\(result)")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any], "\(result)")
        let executable = try #require(report["executable"] as? String)
        #expect(executable.hasPrefix("/tmp/mnt/") && executable.hasSuffix("/python/python3"), "\(report)")
        #expect(report["speedups"] as? String == "&lt;a&gt;", "\(report)")
        #expect(report["child"] as? [AnyHashable] == [0, executable, ""], "\(report)")
        #expect(report["spawn"] as? Int == 42 && report["forkserver"] as? Int == 8, "\(report)")
        #expect(report["pwd"] as? String == "root" && report["grp"] as? String == "root", "\(report)")
        #expect((report["getaddrinfo"] as? [String])?.contains("127.0.0.1") == true, "\(report)")
        let ssl = try #require(report["ssl_ca"] as? [Any], "\(report)")
        #expect(ssl.first as? String == "/usr/lib/ssl/certs" && (ssl.last as? Int ?? 0) > 50, "host CAs: \(report)")
        #expect(report["locale"] as? String == "C.UTF-8", "\(report)")
        #expect(report["find_library"] as? String == "libm.so.6" && report["cos"] as? Double == 1.0, "\(report)")
        // Programs of the host that the application starts see no loader settings of ours.
        #expect(report["host_program"] as? [String] == ["[]", "ls-ok"], "\(report)")
        #expect(report["purelib"] as? Bool == true, "\(report)")
        let venv = try #require(report["venv"] as? [Any], "\(report)")
        #expect(venv.count == 4 && venv[0] as? Int == 0 && venv[1] as? Int == 0, "\(report)")
        #expect(venv.count == 4 && venv[2] as? String == "D/venv D/venv/lib/python3.11/site-packages", "\(report)")
        // os.execv of the other entry point, through its symlink to the .xar.
        #expect(lines[1] == "other: from check", "\(result)")

        // The host-only layout needs the build host's glibc: refused before the exec, with one line.
        let (hostOnly, hostSummary) = try Self.buildApplication(in: dir, layout: "host")
        #expect(hostSummary.contains("runs on: glibc ≥ 2."), "\(hostSummary)")
        try Self.install(hostOnly, as: "host.xar", in: root)
        let refused = try root.run(["/apps/host.xar", "check"], environment: ["XAR_MOUNT_ROOT": "/tmp/mnt"])
        #expect(refused.status == 119, "\(refused)")
        #expect(refused.stderr.hasPrefix("xarexec: error: /apps/host.xar needs glibc 2."), "\(refused)")
        #expect(
            refused.stderr.hasSuffix(
                "this host has glibc 2.31 (rebuild it with the portable layout, the default, to carry its own)\n"),
            "\(refused)")
        #expect(refused.stderr.split(whereSeparator: \.isNewline).count == 1, "\(refused)")
        #expect(refused.stdout.isEmpty)
    }

    /// A thin application on a portable runtime, on Debian 11: its wheel (pyzmq 26.2.0 from PyPI, a manylinux2014
    /// build whose bundled libzmq links `librt.so.1` and `libstdc++.so.6`) and `ctypes` need parts of glibc that no
    /// file of the runtime links (`librt`, `libdl`, `libanl`). The runtime must carry them with its C library: the
    /// host's copies do not work with it (`libdl.so.2: undefined symbol: _dl_vsym, version GLIBC_PRIVATE`). And
    /// it must carry the C++ runtime: the root's `libstdc++.so.6` is removed (a host without one, as distroless
    /// images are), where the same application built standalone would run.
    @Test func aThinImageWhoseWheelsNeedMoreOfGlibcThanItsRuntimeRunsOnDebian11() throws {
        let dir = TemporaryDirectory(prefix: "portable-thin")
        let pyzmq = try PyPIWheels.fetch(["pyzmq==26.2.0"], python: debianPython)[0]
        try FileManager.default.createDirectory(atPath: dir("wheels"), withIntermediateDirectories: true)
        try TestFiles.copy(pyzmq, to: dir("wheels/\((pyzmq as NSString).lastPathComponent)"))
        try "pyzmq==26.2.0 --hash=sha256:\(try PyPIWheels.sha256(pyzmq))\n".write(
            toFile: dir("thin.txt"), atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir("src"), withIntermediateDirectories: true)
        try """
        import ctypes, zmq

        def main():
            context = zmq.Context()
            a, b = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
            a.bind('inproc://x')
            b.connect('inproc://x')
            a.send(b'over zmq')
            print(b.recv().decode(), zmq.zmq_version())
            for name in ('libdl.so.2', 'librt.so.1', 'libanl.so.1', 'libresolv.so.2', 'libutil.so.1'):
                ctypes.CDLL(name)
            print('ctypes ok')
        """.write(toFile: dir("src/zcheck.py"), atomically: false, encoding: .utf8)
        // A runtime with no wheels: nothing of it links librt, libdl or libanl.
        let runtime = try XarTestSupport.Process.run(
            [
                TestEnvironment.product("xarbuild"), "runtime", "--python", debianPython, "--level", "3", "-o",
                dir("rt.xar"),
            ], timeout: 600)
        try #require(runtime.status == 0, "xarbuild runtime: \(runtime)")
        let thin = try XarTestSupport.Process.run(
            [
                TestEnvironment.product("xarbuild"), "python", "--runtime", dir("rt.xar"), "--source", dir("src"),
                "-r", dir("thin.txt"), "--wheelhouse", dir("wheels"), "--entry-point", "zcheck=zcheck:main",
                "--level", "3", "-o", dir("zcheck.xar"),
            ], timeout: 600)
        try #require(thin.status == 0, "xarbuild python --runtime: \(thin)")

        let root = try Debian11Root()
        defer { root.unmountAll() }
        try Self.install(dir("rt.xar"), as: "rt.xar", in: root)
        try Self.install(dir("zcheck.xar"), as: "zcheck.xar", in: root)
        let noCxx = try XarTestSupport.Process.run(
            ["/bin/sh", "-c", "rm -f '\(root.path)'/usr/lib/x86_64-linux-gnu/libstdc++.so.6*"])
        try #require(noCxx.status == 0 && access(root.path + "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", F_OK) != 0)
        let result = try root.run(["/apps/zcheck.xar"], environment: ["XAR_MOUNT_ROOT": "/tmp/mnt"])
        #expect(result.status == 0 && result.stdout == "over zmq 4.3.5\nctypes ok\n", "\(result)")
    }

    /// An executable shipped in a wheel that links the C++ runtime, which the build bundles from the host (real:
    /// clang-format 19.1.5 from PyPI, `clang_format/data/bin/clang-format`, as cmake ships `cmake/data/bin/cmake`):
    /// the application runs it with `subprocess` on Debian 11. It runs under the host's loader, so it must keep no
    /// search path into the image's library directory, which holds the carried `libc.so.6` (with one: `version
    /// GLIBC_2.35 not found (required by …/libc.so.6)`).
    @Test func aWheelsExecutableRunsOnDebian11UnderTheHostsLoader() throws {
        let dir = TemporaryDirectory(prefix: "portable-exe")
        let wheel = try PyPIWheels.fetch(["clang-format==19.1.5"], python: debianPython)[0]
        try FileManager.default.createDirectory(atPath: dir("wheels"), withIntermediateDirectories: true)
        try TestFiles.copy(wheel, to: dir("wheels/\((wheel as NSString).lastPathComponent)"))
        try "clang-format==19.1.5 --hash=sha256:\(try PyPIWheels.sha256(wheel))\n".write(
            toFile: dir("lock.txt"), atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir("src"), withIntermediateDirectories: true)
        try """
        import os, subprocess, clang_format
        def main():
            exe = os.path.join(os.path.dirname(clang_format.__file__), 'data', 'bin', 'clang-format')
            print(subprocess.run([exe, '--version'], capture_output=True, text=True, check=True).stdout.split()[:3])
        """.write(toFile: dir("src/runexe.py"), atomically: false, encoding: .utf8)
        let built = try XarTestSupport.Process.run(
            [
                TestEnvironment.product("xarbuild"), "python", "--python", debianPython, "--source", dir("src"),
                "-r", dir("lock.txt"), "--wheelhouse", dir("wheels"), "--entry-point", "runexe=runexe:main",
                "--level", "3", "-o", dir("runexe.xar"),
            ], timeout: 600)
        try #require(built.status == 0, "xarbuild: \(built)")

        let root = try Debian11Root()
        defer { root.unmountAll() }
        try Self.install(dir("runexe.xar"), as: "runexe.xar", in: root)
        let result = try root.run(["/apps/runexe.xar"], environment: ["XAR_MOUNT_ROOT": "/tmp/mnt"])
        #expect(result.status == 0 && result.stdout == "['clang-format', 'version', '19.1.5']\n", "\(result)")
    }

    @Test func anImageNeedingANewerKernelIsRefusedWithStatus119() throws {
        let fixture = XarctlOpsFixture()
        defer { fixture.unmountAll() }
        let image = try fixture.makeHello("floor")
        // Hand-made: the header gets a kernel floor no host has.
        try Self.addHeaderLine("XAR_KERNEL_FLOOR=\"99.1\"", to: image)
        let root = try Debian11Root()
        defer { root.unmountAll() }
        try Self.install(image, as: "floor.xar", in: root)
        let result = try root.run(["/apps/floor.xar"], environment: ["XAR_MOUNT_ROOT": "/tmp/mnt"])
        #expect(result.status == 119, "\(result)")
        #expect(
            result.stderr.hasPrefix("xarexec: error: /apps/floor.xar needs Linux 99.1 or newer; this host runs Linux "),
            "\(result)")
        #expect(result.stderr.split(whereSeparator: \.isNewline).count == 1 && result.stdout.isEmpty, "\(result)")
        // The same image without the line runs there.
        let plain = try fixture.makeHello("plain")
        try Self.install(plain, as: "plain.xar", in: root)
        let ran = try root.run(["/apps/plain.xar", "x"], environment: ["XAR_MOUNT_ROOT": "/tmp/mnt"])
        #expect(ran.status == 0 && ran.stdout == "hello x\n", "\(ran)")
    }

    /// Inserts `line` before the header's closing `#xar_stop` line, taking the room from its padding.
    static func addHeaderLine(_ line: String, to image: String) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: image))
        defer { try? handle.close() }
        let header = try #require(try handle.read(upToCount: 4096))
        var text = String(decoding: header, as: UTF8.self)
        let stop = try #require(text.range(of: "#xar_stop\n"), "no #xar_stop in \(image)")
        text.insert(contentsOf: line + "\n", at: stop.lowerBound)
        let bytes = Array(text.utf8)
        // The padding after #xar_stop (newlines) gives up as many bytes as the line takes.
        let trimmed = Array(bytes.prefix(4096))
        try #require(trimmed.suffix(line.utf8.count + 1).allSatisfy { $0 == 0x0a || $0 == 0 }, "no room in \(image)")
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: Data(trimmed))
    }
}
