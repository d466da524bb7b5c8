import Synchronization

/// A small pool of expensive, non-thread-safe C contexts (a zstd `ZSTD_CCtx` costs a few MiB at high levels).
///
/// Each call takes one context for its own use and gives it back, so a compressor shared by the writer's
/// worker threads never shares a context between two threads and never allocates one per block. The pool grows
/// to the number of threads that use it at once; the contexts are freed when the pool goes away.
final class ContextPool: Sendable {
    /// Idle contexts as address bits: `OpaquePointer` is not `Sendable`, and the pool is what makes handing a
    /// context from one thread to another safe.
    private let idle = Mutex<[UInt]>([])
    private let make: @Sendable () -> OpaquePointer?
    private let free: @Sendable (OpaquePointer) -> Void

    /// A pool whose contexts come from `make` (nil on allocation failure) and go back to `free`.
    init(make: @escaping @Sendable () -> OpaquePointer?, free: @escaping @Sendable (OpaquePointer) -> Void) {
        self.make = make
        self.free = free
    }

    /// Runs `body` with a context that no other thread uses meanwhile.
    func withContext<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
        let reused = idle.withLock { $0.popLast() }.flatMap { OpaquePointer(bitPattern: $0) }
        guard let context = reused ?? make() else {
            throw CompressionError("The compression library could not allocate a context.")
        }
        let bits = UInt(bitPattern: context)
        defer { idle.withLock { $0.append(bits) } }
        return try body(context)
    }

    deinit {
        let contexts = idle.withLock { contexts in
            defer { contexts.removeAll() }
            return contexts
        }
        for bits in contexts {
            if let context = OpaquePointer(bitPattern: bits) { free(context) }
        }
    }
}
