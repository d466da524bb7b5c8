// The names a start looks up and the directories it lists, recorded and replayed.
//
// A cold start of a Python application looks up a few hundred names (the interpreter, its libraries and the
// directories the dynamic loader probes for them, every module), one round trip to the loop thread each while the
// application waits. And the kernel knows a file only once it is looked up: until then the read-ahead cannot put
// the file's planned pieces into the page cache (FUSE_NOTIFY_STORE needs the inode), so each file's first read is
// a request too. With the start-up record (blocks.c) the server therefore records the lookups (directory, name,
// the inode found or 0) and listings of the first seconds, in order, and the next server of the image replays them
// on a thread of its own from the moment the mount is ready: the same paths, looked up through the mount with
// lstat(2), the same directories listed. By the time the application asks, the kernel's dentry cache has the
// names (and the missing ones as negative entries: the server answers those with a cached negative entry), and the
// application's lookups cost no round trip. Each regular file the replay looked up is handed to the read-ahead
// (the kernel knows it now), which puts the file's planned pieces into the page cache: its reads cost none either.
//
// The plan is a hint from a file in the user's own mount directory: names are checked to be single path
// components, a lookup whose directory was not reached before is skipped, and only directories (by lstat, so never
// through a symbolic link) become the base of later paths, so the replay never leaves the mount.
//
// The lookups run in a child process, never on a thread of the server: a process that is a client of its own
// mount cannot die cleanly. When the server crashed while one of its threads waited on the mount, the dying
// process waited for that thread, the thread for the loop thread that would never answer, and the server sat in
// `D` state for good, its mount hanging every process that touched it. The child holds no descriptor of the
// server's (the FUSE device above all, which would keep the connection alive), dies with the server
// (PR_SET_PDEATHSIG), and reports the regular files it looked up through a pipe; a crash of the server then
// aborts the connection and leaves a dead mount (ENOTCONN), which the next launch removes.
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "names.h"
#include "support.h"

enum { STEP_LOOKUP = 1, STEP_LISTING = 2 };
// At most this many steps, and this many bytes of names, are recorded.
#define XAR_NAMES_MAX 4096
#define XAR_NAMES_POOL (256u << 10)
// FUSE's root inode.
#define ROOT_INO 1

typedef struct {
    uint8_t kind;
    uint8_t length;   // of the name (lookups)
    uint32_t name;    // where the name starts in the pool
    uint64_t parent;  // the directory looked in, or listed
    uint64_t child;   // lookups: the inode found, 0 for a missing name
} step;

typedef struct {
    step *steps;
    size_t count;
    char *pool;
    size_t pool_used;
} step_list;

struct xar_names {
    step_list record, plan;
    // CLOCK_MONOTONIC ns until which steps are recorded; 0 = not recording.
    int64_t record_until;
    // Hashes of the steps recorded (value 1), so that each is recorded once; no slots when not recording.
    xar_map seen;
    // The replay: its process, the thread that reads what it reports, the mount point it works under, and the flag
    // that stops the thread.
    pid_t child;
    int reports;
    pthread_t thread;
    bool replaying;
    int stop;
    char *root;
    xar_names_known known;
    void *context;
};

static void list_free(step_list *list) {
    free(list->steps);
    free(list->pool);
    *list = (step_list){0};
}

static bool list_init(step_list *list, size_t steps, size_t pool) {
    list->steps = malloc((steps ? steps : 1) * sizeof *list->steps);
    list->pool = malloc(pool ? pool : 1);
    list->count = list->pool_used = 0;
    return list->steps && list->pool;
}

xar_names *xar_names_new(void) { return calloc(1, sizeof(xar_names)); }

void xar_names_free(xar_names *names) {
    if (!names) return;
    if (names->replaying) {
        // The mount is gone by now (the session ended first): the child's lookups fail, it is killed anyway.
        kill(names->child, SIGKILL);
        __atomic_store_n(&names->stop, 1, __ATOMIC_RELAXED);
        pthread_join(names->thread, NULL);
        close(names->reports);
        // Reaped if it is gone within a second; otherwise left to init (it dies with this process).
        for (int i = 0; i < 100 && waitpid(names->child, NULL, WNOHANG) == 0; i++) usleep(10000);
    }
    list_free(&names->record);
    list_free(&names->plan);
    xar_map_free(&names->seen);
    free(names->root);
    free(names);
}

int xar_names_record(xar_names *names, double seconds) {
    list_free(&names->record);
    xar_map_free(&names->seen);
    if (!xar_map_init(&names->seen, XAR_NAMES_MAX) || !list_init(&names->record, XAR_NAMES_MAX, XAR_NAMES_POOL)) {
        list_free(&names->record);
        xar_map_free(&names->seen);
        return -1;
    }
    names->record_until = xar_now_ns() + (int64_t)(seconds * 1e9);
    return 0;
}

// FNV-1a over the step.
static uint64_t step_hash(int kind, uint64_t parent, const char *name, size_t length) {
    uint64_t h = 0xcbf29ce484222325ull;
    uint8_t head[9];
    head[0] = (uint8_t)kind;
    for (int i = 0; i < 8; i++) head[1 + i] = (uint8_t)(parent >> (8 * i));
    for (size_t i = 0; i < sizeof head; i++) h = (h ^ head[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < length; i++) h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
    return h;
}

// Records a step unless the window is over, the record is full, or it was recorded already.
static void note(xar_names *names, int kind, uint64_t parent, const char *name, size_t length, uint64_t child) {
    if (!names->seen.slots || names->record.count >= XAR_NAMES_MAX || xar_now_ns() > names->record_until) return;
    if (length > 255 || names->record.pool_used + length > XAR_NAMES_POOL) return;
    uint64_t key = step_hash(kind, parent, name, length);
    size_t slot = xar_map_slot(&names->seen, key);
    if (names->seen.values[slot] != 0) return;
    names->seen.keys[slot] = key;
    names->seen.values[slot] = 1;
    step_list *r = &names->record;
    memcpy(r->pool + r->pool_used, name, length);
    r->steps[r->count++] = (step){
        .kind = (uint8_t)kind, .length = (uint8_t)length, .name = (uint32_t)r->pool_used, .parent = parent,
        .child = child};
    r->pool_used += length;
}

void xar_names_note_lookup(xar_names *names, uint64_t parent, const char *name, uint64_t child) {
    note(names, STEP_LOOKUP, parent, name, strlen(name), child);
}

void xar_names_note_listing(xar_names *names, uint64_t ino) { note(names, STEP_LISTING, ino, "", 0, 0); }

// The section's form: the step count (4 bytes), then per step, little-endian: its kind (1 byte), the directory
// (8), the inode found (8), the name's length (1) and the name (none for a listing).
#define STEP_BYTES 18

size_t xar_names_plan_max_bytes(void) { return 4 + STEP_BYTES * XAR_NAMES_MAX + XAR_NAMES_POOL; }

size_t xar_names_copy_record(xar_names *names, uint8_t *buffer, size_t capacity) {
    const step_list *r = &names->record;
    size_t length = 4;
    for (size_t i = 0; i < r->count; i++) length += STEP_BYTES + r->steps[i].length;
    if (!buffer || capacity < length) return length;
    xar_le_write(buffer, r->count, 4);
    uint8_t *out = buffer + 4;
    for (size_t i = 0; i < r->count; i++) {
        const step *s = &r->steps[i];
        out[0] = s->kind;
        xar_le_write(out + 1, s->parent, 8);
        xar_le_write(out + 9, s->child, 8);
        out[17] = s->length;
        memcpy(out + STEP_BYTES, r->pool + s->name, s->length);
        out += STEP_BYTES + s->length;
    }
    return length;
}

// A name the replay may append to a directory's path: one path component.
static bool plain_name(const uint8_t *name, size_t length) {
    if (length == 0 || (length == 1 && name[0] == '.') || (length == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < length; i++)
        if (name[i] == '/' || name[i] == 0) return false;
    return true;
}

int xar_names_set_plan(xar_names *names, const uint8_t *bytes, size_t length) {
    if (names->replaying || length < 4) return -1;
    size_t count = (size_t)xar_le_read(bytes, 4);
    if (count > XAR_NAMES_MAX) return -1;
    step_list plan;
    if (!list_init(&plan, count, length)) {
        list_free(&plan);
        return -1;
    }
    size_t at = 4;
    for (size_t i = 0; i < count; i++) {
        if (length - at < STEP_BYTES) break;
        const uint8_t *in = bytes + at;
        step s = {.kind = in[0], .parent = xar_le_read(in + 1, 8), .child = xar_le_read(in + 9, 8), .length = in[17]};
        if (length - at - STEP_BYTES < s.length) break;
        bool valid = s.kind == STEP_LOOKUP ? plain_name(in + STEP_BYTES, s.length)
                                           : s.kind == STEP_LISTING && s.length == 0 && s.child == 0;
        if (!valid) break;
        s.name = (uint32_t)plan.pool_used;
        memcpy(plan.pool + plan.pool_used, in + STEP_BYTES, s.length);
        plan.pool_used += s.length;
        plan.steps[plan.count++] = s;
        at += STEP_BYTES + s.length;
    }
    if (plan.count != count || at != length) {
        list_free(&plan);
        return -1;
    }
    list_free(&names->plan);
    names->plan = plan;
    return 0;
}

// The directories the replay reached: each one's path under the mount point, by inode number (`index`: 1 + its
// place in `paths`).
typedef struct {
    xar_map index;
    char **paths;
    size_t count, capacity;
} directory_paths;

static const char *path_of(const directory_paths *directories, uint64_t ino) {
    uint32_t number = directories->index.values[xar_map_slot(&directories->index, ino)];
    return number ? directories->paths[number - 1] : NULL;
}

// Adds the first path found for directory `ino` (a copy of `path`); a later one for the same inode is ignored.
static void add_path(directory_paths *directories, uint64_t ino, const char *path) {
    size_t slot = xar_map_slot(&directories->index, ino);
    if (directories->index.values[slot] != 0 || directories->count == directories->capacity) return;
    char *copy = strdup(path);
    if (!copy) return;
    directories->paths[directories->count++] = copy;
    directories->index.keys[slot] = ino;
    directories->index.values[slot] = (uint32_t)directories->count;
}

// The replay itself, in the child: writes the inode number (8 bytes) of each regular file it looked up to `out`.
static void replay(xar_names *names, int out) {
    const step_list *plan = &names->plan;
    directory_paths directories = {.capacity = plan->count + 1};
    directories.paths = calloc(directories.capacity, sizeof *directories.paths);
    char *path = malloc(PATH_MAX);
    if (!xar_map_init(&directories.index, directories.capacity) || !directories.paths || !path) return;
    add_path(&directories, ROOT_INO, names->root);
    for (size_t i = 0; i < plan->count; i++) {
        const step *s = &plan->steps[i];
        const char *base = path_of(&directories, s->parent);
        if (!base) continue;  // its directory was not reached: skipped
        if (s->kind == STEP_LISTING) {
            DIR *directory = opendir(base);
            if (!directory) continue;
            while (readdir(directory)) {
            }
            closedir(directory);
            continue;
        }
        int written = snprintf(path, PATH_MAX, "%s/%.*s", base, (int)s->length, plan->pool + s->name);
        struct stat status;
        if (written <= 0 || written >= PATH_MAX || lstat(path, &status) != 0) continue;
        if (s->child != 0 && s->child != ROOT_INO && S_ISDIR(status.st_mode)) {
            add_path(&directories, s->child, path);
        } else if (s->child != 0 && S_ISREG(status.st_mode)) {
            uint8_t report[8];
            xar_le_write(report, s->child, 8);
            if (write(out, report, sizeof report) != sizeof report) return;  // the server is gone
        }
    }
}

// The server's side: hands each regular file the child reports to `known`, until the child is done or stopped.
static void *read_reports(void *argument) {
    xar_names *names = argument;
    uint8_t report[8];
    size_t have = 0;
    while (!__atomic_load_n(&names->stop, __ATOMIC_RELAXED)) {
        struct pollfd ready = {.fd = names->reports, .events = POLLIN};
        int polled = poll(&ready, 1, 100);
        if (polled < 0 && errno != EINTR) break;
        if (polled <= 0) continue;
        ssize_t got = read(names->reports, report + have, sizeof report - have);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;  // the child is done (or gone)
        have += (size_t)got;
        if (have < sizeof report) continue;
        have = 0;
        if (names->known) names->known(names->context, xar_le_read(report, 8));
    }
    return NULL;
}

int xar_names_replay(xar_names *names, const char *mountpoint, xar_names_known known, void *context) {
    if (names->replaying || names->plan.count == 0) return -1;
    names->known = known;
    names->context = context;
    names->root = strdup(mountpoint);
    if (!names->root) return -1;
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return -1;
    }
    if (child == 0) {
        // Every descriptor but the pipe's write end goes first: above all the FUSE device's, whose last close is what
        // ends the connection when the server dies.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0);
        if (dup2(pipe_fds[1], 3) != 3) _exit(1);
        close_range(4, ~0u, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int number = 1; number < NSIG; number++) signal(number, SIG_DFL);
        replay(names, 3);
        _exit(0);
    }
    close(pipe_fds[1]);
    names->child = child;
    names->reports = pipe_fds[0];
    if (xar_thread_start(&names->thread, read_reports, names) != 0) {
        kill(child, SIGKILL);
        close(pipe_fds[0]);
        waitpid(child, NULL, 0);
        return -1;
    }
    names->replaying = true;
    return 0;
}
