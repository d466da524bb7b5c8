import Glibc

extension SquashFS {
    /// Compresses blocks on worker threads while the caller reads ahead and writes results in submission order.
    ///
    /// The caller keeps a bounded window of jobs in flight, so memory stays at a few blocks per thread; results
    /// are consumed oldest first, so the output does not depend on which thread finished first. Plain pthreads:
    /// the format module links neither Foundation nor Dispatch.
    final class CompressionPool: @unchecked Sendable {
        /// One block to compress.
        final class Job: @unchecked Sendable {
            /// The uncompressed bytes; empty for a sparse block.
            let input: [UInt8]
            /// True when the block may be stored as a hole if it is all zeros (data blocks, not fragments).
            let mayBeSparse: Bool
            /// The compressed bytes, or nil when the block is stored as `input`.
            fileprivate(set) var compressed: [UInt8]?
            /// True when the block turned out all zeros and is stored as a hole.
            fileprivate(set) var isSparse = false
            fileprivate(set) var error: (any Error)?
            fileprivate var done = false

            init(input: [UInt8], mayBeSparse: Bool) {
                self.input = input
                self.mayBeSparse = mayBeSparse
                if input.isEmpty {
                    isSparse = true
                    done = true
                }
            }

            /// The bytes to write, and the "size" word for the block list or fragment table.
            var stored: (bytes: [UInt8], sizeWord: UInt32) {
                if isSparse { return ([], 0) }
                if let compressed { return (compressed, UInt32(compressed.count)) }
                return (input, UInt32(input.count) | (1 << 24))  // SQUASHFS_COMPRESSED_BIT_BLOCK: uncompressed
            }

            fileprivate func run(_ compressor: (any Compressor)?) {
                if mayBeSparse && input.withUnsafeBytes({ Self.isZero($0) }) {
                    isSparse = true
                    return
                }
                do {
                    compressed = try input.withUnsafeBytes { try compressor?.compress($0) }
                } catch {
                    self.error = error
                }
            }

            private static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
                var i = 0
                let words = bytes.count / 8
                while i < words {
                    if bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) != 0 { return false }
                    i += 1
                }
                for j in words * 8..<bytes.count where bytes[j] != 0 { return false }
                return true
            }
        }

        private let compressor: (any Compressor)?
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private var queue: [Job?] = []
        private var head = 0
        private var stopping = false
        private var threads: [pthread_t] = []

        /// Starts `threadCount` workers; with 1 or fewer, jobs run on the caller's thread at submission.
        init(threadCount: Int, compressor: (any Compressor)?) {
            self.compressor = compressor
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(wake, nil)
            pthread_cond_init(finished, nil)
            guard threadCount > 1 else { return }
            for _ in 0..<threadCount {
                var thread = pthread_t()
                let context = Unmanaged.passRetained(self).toOpaque()
                let rc = pthread_create(
                    &thread, nil,
                    { context in
                        let pool = Unmanaged<CompressionPool>.fromOpaque(context!).takeRetainedValue()
                        pool.work()
                        return nil
                    }, context)
                if rc == 0 {
                    threads.append(thread)
                } else {
                    Unmanaged<CompressionPool>.fromOpaque(context).release()
                }
            }
        }

        deinit {
            mutex.deallocate()
            wake.deallocate()
            finished.deallocate()
        }

        /// Queues `job` (or runs it at once without workers).
        func submit(_ job: Job) {
            if job.done { return }
            if threads.isEmpty {
                job.run(compressor)
                job.done = true
                return
            }
            pthread_mutex_lock(mutex)
            queue.append(job)
            pthread_cond_signal(wake)
            pthread_mutex_unlock(mutex)
        }

        /// Waits until `job` is done and rethrows its error.
        func wait(_ job: Job) throws {
            if !threads.isEmpty {
                pthread_mutex_lock(mutex)
                while !job.done { pthread_cond_wait(finished, mutex) }
                pthread_mutex_unlock(mutex)
            }
            if let error = job.error { throw error }
        }

        /// Stops and joins the workers; queued jobs that nobody waits for are dropped.
        func shutdown() {
            pthread_mutex_lock(mutex)
            stopping = true
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
            for thread in threads { pthread_join(thread, nil) }
            threads = []
        }

        private func work() {
            pthread_mutex_lock(mutex)
            while true {
                while head == queue.count && !stopping { pthread_cond_wait(wake, mutex) }
                if stopping { break }
                let job = queue[head]!
                queue[head] = nil  // the caller holds the job; the queue must not keep its buffers alive
                head += 1
                if head > 64 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                pthread_mutex_unlock(mutex)
                job.run(compressor)
                pthread_mutex_lock(mutex)
                job.done = true
                pthread_cond_broadcast(finished)
            }
            pthread_mutex_unlock(mutex)
        }
    }
}
