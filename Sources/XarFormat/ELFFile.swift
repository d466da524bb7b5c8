/// What an ELF file says about the system it needs: the glibc symbol versions it asks for, the versions a C
/// library defines, the kernel its ABI tag names and its program interpreter. Read through the program headers,
/// as the dynamic loader reads them (section headers may be stripped), from 64-bit little-endian files only
/// (x86-64, AArch64). No I/O of its own: `read(offset, count)` returns up to `count` bytes of the file at
/// `offset`.
///
/// References: the System V gABI (program headers, `PT_DYNAMIC`, `PT_NOTE`, `PT_INTERP`) and the LSB's symbol
/// versioning (`DT_VERNEED`/`Elf64_Verneed`/`Elf64_Vernaux`, `DT_VERDEF`/`Elf64_Verdef`/`Elf64_Verdaux`,
/// `NT_GNU_ABI_TAG`).
public struct ELFFile: Sendable, Equatable {
    /// The version names the file needs from each library (`DT_VERNEED`): `["libc.so.6": ["GLIBC_2.34", …]]`.
    public var neededVersions: [String: [String]] = [:]
    /// The version names the file defines (`DT_VERDEF`), e.g. `GLIBC_2.36` for a C library.
    public var definedVersions: [String] = []
    /// The kernel version of the `NT_GNU_ABI_TAG` note (`.note.ABI-tag`), when the file has one for Linux.
    public var kernelABI: [Int]?
    /// The program interpreter (`PT_INTERP`), e.g. `/lib64/ld-linux-x86-64.so.2`.
    public var interpreter: String?

    /// Why a file could not be read as an ELF file we understand.
    public enum Failure: Error, Sendable, Equatable {
        case notELF
        /// 32-bit or big-endian: not one of the platforms bundled.
        case unsupportedClass
        /// A header, table or string points outside the file.
        case truncated
    }

    static let ptLoad: UInt32 = 1, ptDynamic: UInt32 = 2, ptInterp: UInt32 = 3, ptNote: UInt32 = 4
    static let dtNull: UInt64 = 0, dtStrtab: UInt64 = 5, dtStrsz: UInt64 = 10
    static let dtVerdef: UInt64 = 0x6fff_fffc, dtVerdefnum: UInt64 = 0x6fff_fffd
    static let dtVerneed: UInt64 = 0x6fff_fffe, dtVerneednum: UInt64 = 0x6fff_ffff
    static let ntGnuAbiTag: UInt32 = 1

    /// Reads the file whose bytes `read` returns.
    public init(read readBytes: (_ offset: UInt64, _ count: Int) -> [UInt8]) throws(Failure) {
        let header = readBytes(0, 64)
        guard header.count >= 16, header[0] == 0x7f, header[1] == 0x45, header[2] == 0x4c, header[3] == 0x46 else {
            throw .notELF
        }
        // EI_CLASS 2 = ELFCLASS64, EI_DATA 1 = ELFDATA2LSB.
        guard header[4] == 2, header[5] == 1 else { throw .unsupportedClass }
        guard header.count == 64 else { throw .truncated }
        let phoff = Self.u64(header, 32)
        let phentsize = Int(Self.u16(header, 54)), phnum = Int(Self.u16(header, 56))
        guard phentsize >= 56, phnum < 4096 else { throw .truncated }
        let table = readBytes(phoff, phentsize * phnum)
        guard table.count == phentsize * phnum else { throw .truncated }

        struct Segment { var type: UInt32, offset: UInt64, vaddr: UInt64, fileSize: UInt64 }
        let segments = (0..<phnum).map { index -> Segment in
            let base = index * phentsize
            return Segment(
                type: Self.u32(table, base), offset: Self.u64(table, base + 8), vaddr: Self.u64(table, base + 16),
                fileSize: Self.u64(table, base + 32))
        }
        /// A virtual address as a file offset, through the `PT_LOAD` segment that maps it.
        func fileOffset(_ address: UInt64) -> UInt64? {
            for segment in segments where segment.type == Self.ptLoad {
                if address >= segment.vaddr, address - segment.vaddr < segment.fileSize {
                    return segment.offset + (address - segment.vaddr)
                }
            }
            return nil
        }
        for segment in segments {
            switch segment.type {
            case Self.ptInterp:
                let bytes = readBytes(segment.offset, Int(min(segment.fileSize, 4096)))
                interpreter = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            case Self.ptNote:
                let notes = readBytes(segment.offset, Int(min(segment.fileSize, 65536)))
                var at = 0
                while at + 12 <= notes.count {
                    let nameSize = Int(Self.u32(notes, at)), descSize = Int(Self.u32(notes, at + 4))
                    let type = Self.u32(notes, at + 8)
                    let name = at + 12, desc = name + (nameSize + 3) & ~3
                    guard desc + descSize <= notes.count else { break }
                    if type == Self.ntGnuAbiTag, nameSize == 4, Array(notes[name..<name + 4]) == [0x47, 0x4e, 0x55, 0],
                        descSize >= 16, Self.u32(notes, desc) == 0
                    {
                        kernelABI = [1, 2, 3].map { Int(Self.u32(notes, desc + 4 * $0)) }
                    }
                    at = desc + (descSize + 3) & ~3
                }
            default: break
            }
        }
        guard let dynamic = segments.first(where: { $0.type == Self.ptDynamic }) else { return }
        let entries = readBytes(dynamic.offset, Int(min(dynamic.fileSize, 1 << 20)))
        var tags: [UInt64: UInt64] = [:]
        for at in stride(from: 0, to: entries.count - 15, by: 16) {
            let tag = Self.u64(entries, at)
            if tag == Self.dtNull { break }
            if tags[tag] == nil { tags[tag] = Self.u64(entries, at + 8) }
        }
        guard let strtabAddress = tags[Self.dtStrtab], let strtab = fileOffset(strtabAddress),
            let strsz = tags[Self.dtStrsz], strsz < 1 << 26
        else { return }
        let strings = readBytes(strtab, Int(strsz))
        func string(_ index: UInt32) throws(Failure) -> String {
            guard Int(index) < strings.count else { throw .truncated }
            return String(decoding: strings[Int(index)...].prefix { $0 != 0 }, as: UTF8.self)
        }
        // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
        // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
        if let address = tags[Self.dtVerneed], var at = fileOffset(address) {
            for _ in 0..<min(tags[Self.dtVerneednum] ?? 0, 1024) {
                let need = readBytes(at, 16)
                guard need.count == 16 else { throw .truncated }
                let file = try string(Self.u32(need, 4))
                var auxAt = at + UInt64(Self.u32(need, 8))
                for _ in 0..<min(Int(Self.u16(need, 2)), 1024) {
                    let aux = readBytes(auxAt, 16)
                    guard aux.count == 16 else { throw .truncated }
                    neededVersions[file, default: []].append(try string(Self.u32(aux, 8)))
                    let next = Self.u32(aux, 12)
                    if next == 0 { break }
                    auxAt += UInt64(next)
                }
                let next = Self.u32(need, 12)
                if next == 0 { break }
                at += UInt64(next)
            }
        }
        // Elf64_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32.
        // Elf64_Verdaux: vda_name u32, vda_next u32. The first aux names the version itself.
        if let address = tags[Self.dtVerdef], var at = fileOffset(address) {
            for _ in 0..<min(tags[Self.dtVerdefnum] ?? 0, 1024) {
                let def = readBytes(at, 20)
                guard def.count == 20 else { throw .truncated }
                let aux = readBytes(at + UInt64(Self.u32(def, 12)), 8)
                guard aux.count == 8 else { throw .truncated }
                definedVersions.append(try string(Self.u32(aux, 0)))
                let next = Self.u32(def, 16)
                if next == 0 { break }
                at += UInt64(next)
            }
        }
    }

    /// The newest `GLIBC_x.y[.z]` version among `names` (`GLIBC_PRIVATE` and other libraries' versions ignored).
    public static func newestGlibcVersion(_ names: some Sequence<String>) -> [Int]? {
        var newest: [Int]?
        for name in names where name.hasPrefix("GLIBC_") {
            guard let version = parseVersion(name.dropFirst(6)) else { continue }
            if newest.map({ isOlder($0, than: version) }) ?? true { newest = version }
        }
        return newest
    }

    /// The newest glibc version this file asks any library for.
    public var newestNeededGlibc: [Int]? { Self.newestGlibcVersion(neededVersions.values.joined()) }

    /// `2.34` → `[2, 34]`; `6.1.0-18-amd64` → `[6, 1, 0]` (digits and dots up to the first other character).
    public static func parseVersion(_ text: some StringProtocol) -> [Int]? {
        var parts: [Int] = []
        var current: Int?
        for byte in text.utf8 {
            if byte >= 0x30, byte <= 0x39 {
                current = (current ?? 0) * 10 + Int(byte - 0x30)
                if current! > 1_000_000 { return nil }
            } else if byte == 0x2e, let value = current {
                parts.append(value)
                current = nil
            } else {
                break
            }
        }
        if let current { parts.append(current) }
        return parts.isEmpty ? nil : parts
    }

    /// True when version `a` is older than `b` (missing parts count as 0).
    public static func isOlder(_ a: [Int], than b: [Int]) -> Bool {
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0, y = index < b.count ? b[index] : 0
            if x != y { return x < y }
        }
        return false
    }

    /// `[2, 34]` → `2.34`.
    public static func versionText(_ version: [Int]) -> String {
        var text = ""
        for (index, part) in version.enumerated() { text += (index == 0 ? "" : ".") + String(part) }
        return text
    }

    static func u16(_ bytes: [UInt8], _ at: Int) -> UInt16 {
        guard at + 2 <= bytes.count else { return 0 }
        return UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8
    }

    static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        guard at + 4 <= bytes.count else { return 0 }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[at + index]) << (8 * index) }
        return value
    }

    static func u64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        guard at + 8 <= bytes.count else { return 0 }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[at + index]) << (8 * index) }
        return value
    }
}
