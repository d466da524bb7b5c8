import Glibc
import Testing
import XarBuild
import XarCompression
import XarTestSupport

/// Big trees, one compressor and block size each (zstd-3, 128 KiB) to keep the debug-built writer's runtime
/// modest: the per-compressor coverage is in the oracle suite.
@Suite("XarImageWriter large trees", .tags(.slow, .oracle))
struct XarImageWriterLargeTreeTests {
    typealias T = ImageTestSupport

    /// 10,000 small files, a directory of 5,000 entries whose listing needs the extended inode's index, and
    /// 200 levels of nesting: unsquashfs, squashfuse_ll and the kernel all show the input.
    @Test(.enabled(if: TestEnvironment.hasTool("unsquashfs")))
    func manyFilesWideAndDeepDirectories() throws {
        let dir = TemporaryDirectory()
        let root = dir("in")
        try T.sh(
            """
            mkdir -p '\(root)/many' '\(root)/wide' && cd '\(root)' &&
            for i in $(seq 0 99); do mkdir many/d$i; for j in $(seq 0 99); do echo "x = $i * $j" > many/d$i/m$j.py; done; done &&
            cd wide && seq -f 'a-rather-long-file-name-to-fill-the-listing-%05g.py' 0 4999 | xargs touch &&
            cd .. && p=deep && for i in $(seq 1 200); do p=$p/d; done && mkdir -p $p && echo bottom > $p/file &&
            find . -exec touch -h -d @1600000000 {} +
            """)
        try T.build(root, dir("out.xar"), XarImageOptions(compression: .zstd(level: 3)))
        let expected = try T.manifest(root)
        #expect(try T.unsquashfsManifest(dir("out.xar")) == expected)
        if TestEnvironment.hasFuse && TestEnvironment.hasTool("squashfuse_ll") {
            #expect(try T.withFuseMount(dir("out.xar")) { try T.manifest($0) } == expected)
        }
        if TestEnvironment.isRoot {
            #expect(try T.withKernelMount(dir("out.xar")) { try T.manifest($0) } == expected)
            // Lookups by name go through the directory index in the kernel.
            try T.withKernelMount(dir("out.xar")) { mount in
                for i in [0, 1234, 2500, 4999] {
                    let name =
                        "wide/a-rather-long-file-name-to-fill-the-listing-\(String(repeating: "0", count: 5 - String(i).count))\(i).py"
                    #expect(access("\(mount)/\(name)", F_OK) == 0, "\(name)")
                }
                #expect(access("\(mount)/wide/a-rather-long-file-name-to-fill-the-listing-05000.py", F_OK) != 0)
            }
        }
    }

    /// A 5 GiB sparse file with data in the middle is built from its holes without reading them (a debug build
    /// would take minutes to read 5 GiB), stored in an extended inode, and reads back exactly.
    @Test(.enabled(if: TestEnvironment.hasTool("unsquashfs")))
    func fiveGiBSparseFile() throws {
        let dir = TemporaryDirectory()
        try T.sh(
            """
            mkdir '\(dir("in"))' && cd '\(dir("in"))' && truncate -s 5G sparse &&
            printf 'in the middle' | dd of=sparse bs=1 seek=3221225472 conv=notrunc status=none &&
            printf 'at the end' | dd of=sparse bs=1 seek=5368709100 conv=notrunc status=none &&
            touch -d @1600000000 sparse .
            """)
        let summary = try T.build(dir("in"), dir("out.xar"), XarImageOptions(compression: .zstd(level: 3)))
        #expect(summary.inputBytes == 5 << 30)
        #expect(summary.imageBytes < 1 << 20)
        let listing = try T.sh("unsquashfs -o 4096 -lls '\(dir("out.xar"))'")
        #expect(listing.contains(" 5368709120 "))
        if TestEnvironment.isRoot {
            // Hashing all 5 GiB twice takes minutes on a loaded machine: compare the size and 1 MiB windows at
            // the start, around the data (holes on both sides), and at the end.
            let windows =
                "for mib in 0 3071 3072 5119; do dd if=\"$F\" bs=1M skip=$mib count=1 status=none | sha256sum; done"
            let expected = try T.sh("F='\(dir("in/sparse"))'; stat -c %s \"$F\"; \(windows)")
            let seen = try T.withKernelMount(dir("out.xar")) {
                try T.sh("F='\($0)/sparse'; stat -c %s \"$F\"; \(windows)")
            }
            #expect(seen == expected)
            #expect(expected.hasPrefix("5368709120\n"))
        }
    }
}
