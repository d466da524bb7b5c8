// Giving memory back once the server is idle (docs/lifecycle.md, "An idle server's memory"): the allocator's free
// pages, in one arena for all threads, and the executable's pages.
//
// An idle server's resident set is mostly not its own data: `xarexec` is one static executable (launcher, server,
// Swift runtime, libfuse, libsquashfuse, the codecs), and every page of it that the start touched stays mapped in
// the server until the process exits, although nothing but a new request will run that code again. Those pages are
// clean copies of the file: MADV_DONTNEED on a private, read-only file mapping only unmaps them from this process
// (the page cache keeps them for the launchers and the next request, which maps them again with minor faults).
// Writable mappings (.data, .bss, the heap, stacks) are never advised: their pages may hold the only copy of what
// the process wrote. In a read-only mapping holding anonymous pages (written before an mprotect, as RELRO is),
// only the runs of file pages between them are advised (/proc/self/pagemap says which is which).
//
// The kernel maps up to 16 pages around each page a fault needs (fault-around), so a little Swift code run after
// the advice (a log line, the usage monitor's walk over /proc) maps megabytes of the executable again: the monitor
// advises the same ranges again at the end of each of its ticks while the session is quiet, and trims the heap
// again (xar_release_file_pages_again).
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>
#include "CXarFuse.h"
#include "support.h"

void xar_trim_heap(void) { (void)malloc_trim(0); }

void xar_limit_arenas(void) { (void)mallopt(M_ARENA_MAX, 1); }

typedef struct {
    uintptr_t start, end;
    bool candidate;   // private, read-only, backed by a file
    bool anonymous;   // holds pages the process wrote (copied on write) before it became read-only, or unknown
    bool counted;     // the smaps entry said how many (`anonymous` is then exact)
} mapping;

// The ranges found by the last scan of /proc/self/smaps (a static executable has two or three, a few more where
// a read-only mapping holds written pages).
#define XAR_RANGES_MAX 64
static pthread_mutex_t ranges_lock = PTHREAD_MUTEX_INITIALIZER;
static mapping ranges[XAR_RANGES_MAX];
static size_t range_count;

static void keep_range(uintptr_t start, uintptr_t end) {
    if (end > start && range_count < XAR_RANGES_MAX) ranges[range_count++] = (mapping){.start = start, .end = end};
}

// /proc/self/pagemap: one 64-bit entry per page; bit 63 present, bit 62 swapped, bit 61 a file page (or shared
// anonymous). A read-only mapping's written pages are present or swapped and not file pages; they are never
// advised (their contents exist nowhere else), the runs of pages between them are.
#define XAR_PAGE_PRESENT (1ull << 63)
#define XAR_PAGE_SWAPPED (1ull << 62)
#define XAR_PAGE_FILE (1ull << 61)

static void keep_file_runs(int pagemap, const mapping *m) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t run = m->start;
    for (uintptr_t at = m->start; at < m->end; at += page) {
        uint64_t entry;
        if (pread(pagemap, &entry, sizeof entry, (off_t)(at / page * sizeof entry)) != sizeof entry) return;
        bool written = (entry & (XAR_PAGE_PRESENT | XAR_PAGE_SWAPPED)) && !(entry & XAR_PAGE_FILE);
        if (written) {
            keep_range(run, at);
            run = at + page;
        }
    }
    keep_range(run, m->end);
}

static void keep(const mapping *m, int pagemap) {
    if (!m->candidate) return;
    if (!m->anonymous) keep_range(m->start, m->end);
    else if (m->counted && pagemap >= 0) keep_file_runs(pagemap, m);
}

static size_t advise_ranges(void) {
    size_t advised = 0;
    for (size_t i = 0; i < range_count; i++)
        if (madvise((void *)ranges[i].start, ranges[i].end - ranges[i].start, MADV_DONTNEED) == 0)
            advised += ranges[i].end - ranges[i].start;
    return advised;
}

size_t xar_release_file_pages(void) {
    FILE *smaps = fopen("/proc/self/smaps", "re");
    if (!smaps) return 0;
    int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    pthread_mutex_lock(&ranges_lock);
    range_count = 0;
    mapping current = {0};
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, smaps) > 0) {
        unsigned long start, end, offset, inode;
        unsigned major, minor;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms, &offset, &major, &minor, &inode) == 7) {
            keep(&current, pagemap);
            current = (mapping){
                .start = start, .end = end, .anonymous = true,
                .candidate = inode != 0 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p'};
            continue;
        }
        unsigned long kilobytes;
        if (sscanf(line, "Anonymous: %lu kB", &kilobytes) == 1) {
            current.anonymous = kilobytes != 0;
            current.counted = true;
        }
        // Locked pages (mlock) cannot be advised away.
        else if (strncmp(line, "VmFlags:", 8) == 0 && strstr(line, " lo")) current.candidate = false;
    }
    keep(&current, pagemap);
    free(line);
    fclose(smaps);
    if (pagemap >= 0) close(pagemap);
    size_t advised = advise_ranges();
    pthread_mutex_unlock(&ranges_lock);
    return advised;
}

void xar_release_file_pages_again(void) {
    // Whatever a helper thread freed since (the source's digest, a local copy's buffers) goes back too.
    xar_trim_heap();
    pthread_mutex_lock(&ranges_lock);
    (void)advise_ranges();
    pthread_mutex_unlock(&ranges_lock);
}
