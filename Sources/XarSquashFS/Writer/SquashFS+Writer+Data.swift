extension SquashFS.Writer {
    /// Where one regular file's data ended up.
    final class FileRecord {
        let node: Int
        let size: UInt64
        let content: any SquashFS.ContentSource
        /// "blocks_start": the position of the file's first block.
        var start: UInt64?
        /// The block list: one size word per full block.
        var blocks: [UInt32] = []
        /// "The number of bytes saved by omitting zero bytes": sparse blocks times the block size.
        var sparse: UInt64 = 0
        /// The fragment block index, all ones for none.
        var fragment = UInt32.max
        var fragmentOffset: UInt32 = 0
        /// An earlier file with the same bytes, whose data this one shares.
        var duplicateOf: FileRecord?
        /// A hash of the content, computed only when another file has the same size.
        var hash: UInt64?

        init(node: Int, size: UInt64, content: any SquashFS.ContentSource) {
            self.node = node
            self.size = size
            self.content = content
        }

        /// The record holding the data.
        var resolved: FileRecord { duplicateOf?.resolved ?? self }
    }

    /// Validates names and sorts directories, then numbers the inodes the way they are written: each
    /// directory's children first, the directory after them, the root last.
    func prepare() throws {
        let nodes = tree.nodes
        sortedEntries = Array(repeating: [], count: nodes.count)
        numbers = Array(repeating: 0, count: nodes.count)
        linkCounts = Array(repeating: 0, count: nodes.count)
        inodeRefs = Array(repeating: nil, count: nodes.count)
        inodeTypes = Array(repeating: nil, count: nodes.count)
        records = Array(repeating: nil, count: nodes.count)
        var next: UInt32 = 0
        func visit(_ dir: Int, path: String) throws {
            let entries = nodes[dir].entries.sorted { $0.name.lexicographicallyPrecedes($1.name) }
            sortedEntries[dir] = entries
            for (i, entry) in entries.enumerated() {
                let childPath = path + "/" + String(decoding: entry.name, as: UTF8.self)
                let name = entry.name
                guard !name.isEmpty, name != [0x2e], name != [0x2e, 0x2e], !name.contains(0x2f), !name.contains(0)
                else { throw SquashFS.WriterError.invalidName(path: childPath) }
                guard name.count <= 256 else { throw SquashFS.WriterError.nameTooLong(path: childPath) }
                if i > 0 && entries[i - 1].name == name { throw SquashFS.WriterError.duplicateName(path: childPath) }
                let child = entry.node
                linkCounts[child] += 1
                switch nodes[child].kind {
                case .directory:
                    try visit(child, path: childPath)
                case .symlink(let target) where target.count > 4095:
                    throw SquashFS.WriterError.symlinkTargetTooLong(path: childPath, length: target.count)
                default:
                    if numbers[child] == 0 {
                        next += 1
                        numbers[child] = next
                    }
                }
            }
            next += 1
            numbers[dir] = next
        }
        try visit(SquashFS.Tree.root, path: "")
    }

    /// The order regular files' data is written in: `sortFirst`, then directory order (depth first, names
    /// sorted by bytes), which is also the order a program walks its own package directories.
    private func dataOrder() -> [Int] {
        var order: [Int] = []
        var placed = Set<Int>()
        for node in options.sortFirst where node < tree.nodes.count && !placed.contains(node) {
            collect(node, into: &order, placed: &placed)
        }
        collect(SquashFS.Tree.root, into: &order, placed: &placed)
        return order
    }

    private func collect(_ node: Int, into order: inout [Int], placed: inout Set<Int>) {
        switch tree.nodes[node].kind {
        case .directory:
            for entry in sortedEntries[node] { collect(entry.node, into: &order, placed: &placed) }
        case .file:
            if placed.insert(node).inserted { order.append(node) }
        default:
            break
        }
    }

    /// Writes every regular file's blocks and the fragment blocks; returns the file bytes read.
    func writeData(progress: ((UInt64) -> Void)?) throws -> UInt64 {
        pool = SquashFS.CompressionPool(threadCount: options.threads, compressor: compressor)
        defer { pool.shutdown() }
        var done: UInt64 = 0
        let blockSize = UInt64(options.blockSize)
        for node in dataOrder() {
            guard case .file(let size, let content) = tree.nodes[node].kind else { continue }
            let record = FileRecord(node: node, size: size, content: content)
            records[node] = record
            done += size
            defer { progress?(done) }
            if size == 0 { continue }
            if options.deduplicate, let original = try findDuplicate(of: record) {
                record.duplicateOf = original
                continue
            }
            let reader = try content.open()
            var offset: UInt64 = 0
            while size - offset >= blockSize {
                var input: [UInt8] = []
                if let data = try reader.nextData(from: offset), data < offset + blockSize {
                    input = try read(reader, at: offset, count: Int(blockSize))
                }
                try enqueue(SquashFS.CompressionPool.Job(input: input, mayBeSparse: true)) { [blockSize] at, word in
                    if record.start == nil { record.start = at }
                    record.blocks.append(word)
                    if word == 0 { record.sparse += blockSize }
                }
                offset += blockSize
            }
            if offset < size {
                let tail = try read(reader, at: offset, count: Int(size - offset))
                if fragmentBuffer.count + tail.count > options.blockSize { try flushFragment() }
                record.fragment = UInt32(fragments.count)
                record.fragmentOffset = UInt32(fragmentBuffer.count)
                fragmentBuffer += tail
            }
            try reader.finish()
        }
        try flushFragment()
        while windowHead < window.count { try writeOldest() }
        window = []
        windowHead = 0
        return done
    }

    private func read(_ reader: any SquashFS.ContentReader, at offset: UInt64, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            try reader.read(at: offset, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Queues the fragment block being filled (its entry is reserved now, filled when it is written).
    private func flushFragment() throws {
        guard !fragmentBuffer.isEmpty else { return }
        let index = fragments.count
        fragments.append(SquashFS.FragmentEntry(start: 0, size: 0))
        try enqueue(SquashFS.CompressionPool.Job(input: fragmentBuffer, mayBeSparse: false)) { [self] at, word in
            fragments[index] = SquashFS.FragmentEntry(start: at, size: word)
        }
        fragmentBuffer = []
    }

    /// Hands a job to the pool, and writes the oldest jobs while more than a few per thread are in flight.
    private func enqueue(_ job: SquashFS.CompressionPool.Job, written: @escaping (UInt64, UInt32) -> Void) throws {
        pool.submit(job)
        window.append((job, written))
        while window.count - windowHead > max(2, options.threads * 4) { try writeOldest() }
    }

    private func writeOldest() throws {
        let (job, written) = window[windowHead]
        window[windowHead].job = SquashFS.CompressionPool.Job(input: [], mayBeSparse: true)
        windowHead += 1
        if windowHead > 256 {
            window.removeFirst(windowHead)
            windowHead = 0
        }
        try pool.wait(job)
        let stored = job.stored
        let at = position
        try append(stored.bytes)
        written(at, stored.sizeWord)
    }

    /// An earlier file with exactly the bytes of `record`: same size, same hash, and equal when compared.
    private func findDuplicate(of record: FileRecord) throws -> FileRecord? {
        guard let candidates = candidatesBySize[record.size] else {
            candidatesBySize[record.size] = [record]
            return nil
        }
        record.hash = try hash(record.content, size: record.size)
        for candidate in candidates {
            if candidate.hash == nil { candidate.hash = try hash(candidate.content, size: candidate.size) }
            if candidate.hash == record.hash, try equal(candidate.content, record.content, size: record.size) {
                return candidate
            }
        }
        candidatesBySize[record.size]!.append(record)
        return nil
    }

    private func hash(_ content: any SquashFS.ContentSource, size: UInt64) throws -> UInt64 {
        let reader = try content.open()
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var offset: UInt64 = 0
        let chunk = UInt64(1 << 20)
        while offset < size {
            let bytes = try read(reader, at: offset, count: Int(min(chunk, size - offset)))
            bytes.withUnsafeBytes { raw in
                var i = 0
                while i + 8 <= raw.count {
                    h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x100_0000_01b3
                    h ^= h >> 29
                    i += 8
                }
                while i < raw.count {
                    h = (h ^ UInt64(raw[i])) &* 0x100_0000_01b3
                    i += 1
                }
            }
            offset += chunk
        }
        try reader.finish()
        return h
    }

    private func equal(_ a: any SquashFS.ContentSource, _ b: any SquashFS.ContentSource, size: UInt64) throws -> Bool {
        let ra = try a.open(), rb = try b.open()
        var offset: UInt64 = 0
        let chunk = UInt64(1 << 20)
        while offset < size {
            let n = Int(min(chunk, size - offset))
            if try read(ra, at: offset, count: n) != read(rb, at: offset, count: n) { return false }
            offset += chunk
        }
        return true
    }
}
