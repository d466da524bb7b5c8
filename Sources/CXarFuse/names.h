// The names a start looks up and the directories it lists: recorded, and replayed by the next server (see names.c).
#pragma once
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

typedef struct xar_names xar_names;

/// An empty record and plan; NULL when out of memory.
xar_names *xar_names_new(void);

/// Stops the replay (if it runs) and frees everything. NULL is ignored.
void xar_names_free(xar_names *names);

/// Starts recording, for `seconds`, the lookups and listings the loop thread serves. Loop thread only.
int xar_names_record(xar_names *names, double seconds);

/// A lookup of `name` in directory `parent` found inode `child` (0: the name is missing). Loop thread only.
void xar_names_note_lookup(xar_names *names, uint64_t parent, const char *name, uint64_t child);

/// Directory `ino` was listed from its start. Loop thread only.
void xar_names_note_listing(xar_names *names, uint64_t ino);

/// The record's section of the start-up plan file: copies it to `buffer` when `capacity` allows and returns its
/// length (4 bytes for an empty record). Call once the loop thread is done.
size_t xar_names_copy_record(xar_names *names, uint8_t *buffer, size_t capacity);

/// The longest section xar_names_copy_record writes.
size_t xar_names_plan_max_bytes(void);

/// Makes a section written by xar_names_copy_record the plan (before the mount). Returns 0, or -1 when `bytes`
/// are not such a section (nothing changes then).
int xar_names_set_plan(xar_names *names, const uint8_t *bytes, size_t length);

/// Called by the replay with the inode number of each regular file it looked up: the kernel knows the file now.
typedef void (*xar_names_known)(void *context, uint64_t ino);

/// Starts a child process that replays the plan through the mount at `mountpoint` (which must be mounted, or about
/// to be answered INIT): the same lookups, as lstat(2) of the same paths, and the same listings; and a thread that
/// hands `known` what it reports. The server itself never waits on its own mount. Returns 0, or -1 when there is
/// nothing to replay or the process cannot start.
int xar_names_replay(xar_names *names, const char *mountpoint, xar_names_known known, void *context);
