// swift-tools-version: 6.1
//
// The architecture, layer by layer (dependencies point downwards only):
//
//   executables   xarexec        xarctl / xarbuild
//                    |                 |
//   commands         |            XarCommands        (ArgumentParser lives here and only here)
//                    |           /     |
//   runtime       XarMount      XarBuild             (launcher + FUSE server | Python layout, wheels)
//                  /   \           |
//   system     XarSystem  CXarFuse |                 (syscalls | the one C file for libfuse3 + squashfuse)
//                         \        |
//   format     XarFormat   XarSquashFS <- XarCompression (zstd, xz, gzip over the C libraries)
//
// The launcher (`xarexec`) must stay free of Foundation, ArgumentParser and swift-log: it is on every
// launch's critical path. `scripts/check-launcher-deps` verifies that on the linked binary.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "xar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "xarexec", targets: ["xarexec"]),
        .executable(name: "xarctl", targets: ["xarctl"]),
        .executable(name: "xarbuild", targets: ["xarbuild"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // MARK: C interop: system libraries, each imported only by the module that wraps it: CZstd and CLZMA by
        // XarCompression, CZlib by XarCompression (gzip) and XarBuild (the wheel reader), CXattr and CXarSystem
        // by XarSystem (scripts/check-io-layer keeps libc calls there).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZMA", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // <sys/xattr.h> (glibc, nothing to link): the Glibc module does not export it.
        .systemLibrary(name: "CXattr"),
        // Used only for its include path (-I/usr/include/fuse3); never imported from Swift (see docs/building.md).
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        // libc calls Glibc's module map leaves out (statfs, the flock function); static inline, nothing to link.
        .systemLibrary(name: "CXarSystem"),
        // The one hand-written C target over libsquashfuse_ll, one C file per concern: the FUSE ops table and
        // session loop, block cache, start-up plan, saved blocks, read-ahead, name replay, xattrs, detaching.
        .target(
            name: "CXarFuse",
            dependencies: ["CFuse3"],
            linkerSettings: [
                .linkedLibrary("squashfuse_ll"), .linkedLibrary("squashfuse"), .linkedLibrary("fuse3"),
                // libsquashfuse's codecs, named after it so a static link (xarexec) resolves them in order.
                .linkedLibrary("zstd"), .linkedLibrary("lzma"), .linkedLibrary("z"), .linkedLibrary("lz4"),
                .linkedLibrary("lzo2"),
            ]
        ),

        // SHA-256's compression function on the x86 SHA extensions (SHA-NI), checked by CPUID; imported only by
        // XarFormat's SHA256, which falls back to its Swift loop. No library, no I/O.
        .target(name: "CXarSHA256"),

        // MARK: Format: pure Swift (but for CXarSHA256's few instructions), no I/O of its own.
        .target(name: "XarFormat", dependencies: ["CXarSHA256"], swiftSettings: strict),
        .target(name: "XarSquashFS", swiftSettings: strict),
        .target(
            name: "XarCompression",
            dependencies: ["XarSquashFS", "CZstd", "CLZMA", "CZlib"],
            swiftSettings: strict
        ),

        // MARK: System and runtime.
        .target(
            name: "XarSystem",
            dependencies: ["CXarSystem", "CXattr", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        .target(
            name: "XarMount",
            dependencies: [
                "XarFormat", "XarSquashFS", "XarCompression", "XarSystem", "CXarFuse",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),

        // MARK: Build side.
        .target(
            name: "XarBuild",
            dependencies: [
                "XarFormat", "XarSquashFS", "XarCompression", "XarSystem", "CZlib", "CXattr",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            // The Python that xarbuild writes into images or runs at build time: real .py files, embedded as
            // string constants (`EmbeddedPython`) by the plugin, since xarbuild is installed as a lone binary.
            exclude: ["Python/Scripts"],
            swiftSettings: strict,
            plugins: ["EmbedPythonScripts"]
        ),
        .executableTarget(name: "embed-python-scripts"),
        .plugin(name: "EmbedPythonScripts", capability: .buildTool(), dependencies: ["embed-python-scripts"]),
        .target(
            name: "XarCommands",
            dependencies: [
                "XarFormat", "XarSquashFS", "XarCompression", "XarSystem", "XarMount", "XarBuild", "CXattr",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),

        // MARK: Executables: a few lines each.
        .executableTarget(
            name: "xarexec",
            dependencies: ["XarMount"],
            swiftSettings: strict,
            // Fully static: measured start-up of a Swift hello is ~3 ms with -static-stdlib (the dynamic loader
            // mapping libstdc++, libfuse3, libsquashfuse, ...) and ~0.5 ms with -static-executable, the launcher's
            // whole budget. libsquashfuse.a needs the codec archives (liblz4-dev, liblzo2-dev in install-deps; CXarFuse
            // names them).
            // The linker warns that libswiftCore's dlopen needs the same glibc at run time; we never dlopen.
            linkerSettings: [.unsafeFlags(["-static-executable"])]
        ),
        .executableTarget(name: "xarctl", dependencies: ["XarCommands"], swiftSettings: strict),
        .executableTarget(name: "xarbuild", dependencies: ["XarCommands"], swiftSettings: strict),

        // MARK: Tests.
        .target(
            name: "XarTestSupport",
            dependencies: ["XarSystem", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/XarTestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "XarFormatTests", dependencies: ["XarFormat", "XarTestSupport"]),
        .testTarget(
            name: "XarSquashFSTests",
            dependencies: ["XarSquashFS", "XarCompression", "XarFormat", "XarSystem", "XarTestSupport"]
        ),
        .testTarget(name: "XarMountTests", dependencies: ["XarMount", "XarSystem", "XarFormat", "XarTestSupport"]),
        .testTarget(name: "XarBuildTests", dependencies: ["XarBuild", "XarFormat", "XarTestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["XarFormat", "XarSystem", "XarTestSupport"]),
    ]
)
