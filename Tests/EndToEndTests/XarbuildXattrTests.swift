import Foundation
import Testing
import XarTestSupport

/// `xarbuild dir --xattrs` on a real tree with `user.` and `trusted.` attributes (set with `setfattr`), read
/// back by `unsquashfs` and the kernel's squashfs: exactly the input's attributes, the same bytes twice.
@Suite(
    "Xarbuild xattrs", .tags(.root, .oracle),
    .enabled(
        if: TestEnvironment.isRoot && TestEnvironment.hasTool("setfattr") && TestEnvironment.hasTool("getfattr")
            && TestEnvironment.hasTool("unsquashfs")))
struct XarbuildXattrTests {
    static let xarbuild = TestEnvironment.product("xarbuild")

    /// Runs a bash command line and requires success.
    @discardableResult
    static func sh(_ command: String, timeout: Double = 120) throws -> String {
        let result = try Process.run(["/bin/bash", "-c", command], timeout: timeout)
        try #require(result.status == 0, "\(command)\n\(result)")
        return result.stdout
    }

    /// Files, a directory, a symlink, a fifo and the root with attributes; two files share a set; together
    /// the values fill more than a metadata block (ext4 keeps at most 4 KiB per inode); one file has none.
    static func makeTree(_ dir: TemporaryDirectory) throws -> String {
        let tree = dir("tree")
        try sh(
            """
            set -e
            mkdir -p '\(tree)/d'
            cd '\(tree)'
            echo a > a; echo b > b; echo plain > plain; mkfifo d/p; ln -s a l
            for c in w x y z; do head -c 3000 /dev/zero | tr '\\0' $c > d/big-$c; done
            for f in a b; do setfattr -n user.comment -v 'shared set' $f; setfattr -n trusted.t -v 0x00ff01 $f; done
            setfattr -n user.dir -v D d
            for c in w x y z; do setfattr -n user.big -v "$(cat d/big-$c)" d/big-$c; done
            setfattr -h -n trusted.link -v L l
            setfattr -n trusted.fifo -v F d/p
            setfattr -n user.root -v R .
            setfattr -n user.empty plain
            """)
        return tree
    }

    /// Every path's attributes, names and hex values, in path order: `getfattr` per path, so the listing order
    /// of the file system does not matter.
    static func dump(_ root: String) throws -> String {
        try sh(
            "cd '\(root)' && LC_ALL=C find . | LC_ALL=C sort | while IFS= read -r f; do "
                + "echo \"== $f\"; getfattr -h -d -m - -e hex \"$f\" 2>/dev/null | grep -v '^#' | grep .; done; true")
    }

    static func build(_ tree: String, _ output: String, _ extra: [String] = ["--xattrs"]) throws
        -> XarTestSupport.Process.Result
    {
        let result = try Process.run(
            [xarbuild, "dir", tree, "-o", output] + extra, environment: ["SOURCE_DATE_EPOCH": "1600000000"],
            timeout: 120)
        try #require(result.status == 0, "\(result)")
        return result
    }

    @Test func unsquashfsAndTheKernelShowExactlyTheInputsAttributes() throws {
        let dir = TemporaryDirectory(prefix: "xarbuild-xattrs")
        let tree = try Self.makeTree(dir)
        let expected = try Self.dump(tree)
        #expect(expected.contains("user.comment=0x") && expected.contains("trusted.link=0x4c"))
        #expect(expected.contains("== ./d/p\ntrusted.fifo=0x46"))
        _ = try Self.build(tree, dir("a.xar"))

        let listing = try Self.sh("unsquashfs -o 4096 -lls '\(dir("a.xar"))'")
        #expect(listing.contains("squashfs-root/l -> a"))
        try Self.sh("unsquashfs -no-progress -xattrs -o 4096 -d '\(dir("x"))' '\(dir("a.xar"))' >/dev/null")
        #expect(try Self.dump(dir("x")) == expected)

        let mountPoint = dir("m")
        try Self.sh(
            "mkdir '\(mountPoint)' && mount -t squashfs -o loop,ro,offset=4096 '\(dir("a.xar"))' '\(mountPoint)'")
        defer { _ = try? Process.run(["umount", "-d", mountPoint], timeout: 60) }
        #expect(try Self.dump(mountPoint) == expected)
    }

    @Test func twoBuildsAreByteIdenticalAndMatchMksquashfs() throws {
        let dir = TemporaryDirectory(prefix: "xarbuild-xattrs")
        let tree = try Self.makeTree(dir)
        _ = try Self.build(tree, dir("a.xar"))
        _ = try Self.build(tree, dir("b.xar"))
        try Self.sh("cmp '\(dir("a.xar"))' '\(dir("b.xar"))'")
        // sqfsdiff compares contents, types, modes and targets but not xattrs (checked above by extraction).
        guard TestEnvironment.hasTool("sqfsdiff"), TestEnvironment.hasTool("mksquashfs") else { return }
        try Self.sh(
            "dd if='\(dir("a.xar"))' of='\(dir("a.sqfs"))' bs=4096 skip=1 status=none && "
                + "mksquashfs '\(tree)' '\(dir("ref.sqfs"))' -xattrs -noappend -quiet -no-progress >/dev/null && "
                + "sqfsdiff -O -a '\(dir("a.sqfs"))' -b '\(dir("ref.sqfs"))'")
    }

    @Test func withoutTheFlagTheyAreDroppedAndSaidOnce() throws {
        let dir = TemporaryDirectory(prefix: "xarbuild-xattrs")
        let tree = try Self.makeTree(dir)
        let result = try Self.build(tree, dir("a.xar"), [])
        #expect(result.stderr.components(separatedBy: "extended attributes were dropped").count == 2)
        try Self.sh("unsquashfs -no-progress -o 4096 -d '\(dir("x"))' '\(dir("a.xar"))' >/dev/null")
        #expect(!(try Self.dump(dir("x")).contains("=0x")))
    }

    /// An access ACL (`system.posix_acl_access`, with a named user so the kernel keeps it) cannot be stored:
    /// `--xattrs` keeps the rest and names the left-out attribute once.
    @Test func otherNamespacesAreLeftOutWithANote() throws {
        let dir = TemporaryDirectory(prefix: "xarbuild-xattrs")
        let tree = try Self.makeTree(dir)
        let acl = try XarTestSupport.Process.run(
            [
                "python3", "-c",
                "import os,struct,sys; e=lambda t,p,i: struct.pack('<HHI',t,p,i); "
                    + "os.setxattr(sys.argv[1],'system.posix_acl_access',struct.pack('<I',2)+e(1,6,0xffffffff)"
                    + "+e(2,4,1000)+e(4,4,0xffffffff)+e(0x10,4,0xffffffff)+e(0x20,4,0xffffffff))",
                "\(tree)/a",
            ], timeout: 60)
        try #require(acl.status == 0, "ACLs unsupported here: \(acl)")
        let expected = try Self.dump(tree).replacingOccurrences(
            of: #"system\.posix_acl_access=0x[0-9a-f]*\n"#, with: "", options: .regularExpression)
        let result = try Self.build(tree, dir("a.xar"))
        #expect(
            result.stderr.components(separatedBy: "cannot store were dropped: system.posix_acl_access.").count == 2,
            "\(result)")
        try Self.sh("unsquashfs -no-progress -xattrs -o 4096 -d '\(dir("x"))' '\(dir("a.xar"))' >/dev/null")
        #expect(try Self.dump(dir("x")) == expected)
        #expect(expected.contains("user.comment"))
    }
}
