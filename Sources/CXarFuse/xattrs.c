// Extended attributes with the prefixes the SquashFS format gives them.
//
// The format (the kernel's fs/squashfs/xattr.c, squashfs-tools) stores each name without its namespace and a
// type id: 0 `user.`, 1 `trusted.`, 2 `security.`. libsquashfuse 0.1.105 maps 1 to `security.` and 2 to
// `trusted.`, so its xattr ops show `trusted.*` as `security.*` and the reverse, and its lookup matches names
// across namespaces. These ops walk its xattr iterator and apply the format's prefixes themselves.
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUSE_USE_VERSION 32
#include <fuse_lowlevel.h>
#include <squashfuse/ll.h>

#include "xattrs.h"

static const char *const format_prefixes[] = {"user.", "trusted.", "security."};

// Moves `x` to the entry called `name` (with its prefix); `*found` says whether there is one. Returns 0 or an
// errno. Not libsquashfuse's `sqfs_xattr_find`: besides the prefix table, its 0.1.105 skips an entry only when
// both the type and the name's length differ, so `user.t` finds `trusted.t`.
static int find_entry(sqfs_xattr *x, const char *name, bool *found) {
    *found = false;
    unsigned type = 0;
    size_t prefix_length = 0;
    for (; type < sizeof format_prefixes / sizeof format_prefixes[0]; type++) {
        prefix_length = strlen(format_prefixes[type]);
        if (strncmp(name, format_prefixes[type], prefix_length) == 0) break;
    }
    if (type == sizeof format_prefixes / sizeof format_prefixes[0]) return 0;  // no such namespace here
    const char *rest = name + prefix_length;
    size_t length = strlen(rest);
    char *candidate = malloc(length > 0 ? length : 1);
    if (candidate == NULL) return ENOMEM;
    int error = 0;
    while (x->remain > 0 && !*found) {
        if (sqfs_xattr_read(x) != SQFS_OK) {
            error = EIO;
            break;
        }
        if ((x->entry.type & SQUASHFS_XATTR_PREFIX_MASK) != type || x->entry.size != length) continue;
        if (sqfs_xattr_name(x, candidate, false) != SQFS_OK) {
            error = EIO;
            break;
        }
        *found = memcmp(candidate, rest, length) == 0;
    }
    free(candidate);
    return error;
}

void xar_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
    sqfs_ll_i lli;
    if (sqfs_ll_iget(req, &lli, ino) != SQFS_OK) return;  // replied already
    sqfs_xattr x;
    memset(&x, 0, sizeof x);
    bool found = false;
    size_t value_size = 0;
    int error = 0;
    if (sqfs_xattr_open(&lli.ll->fs, &lli.inode, &x) != SQFS_OK) error = EIO;
    else if ((error = find_entry(&x, name, &found)) == 0 && !found) error = ENODATA;
    else if (error == 0 && sqfs_xattr_value_size(&x, &value_size) != SQFS_OK) error = EIO;
    if (error != 0) {
        fuse_reply_err(req, error);
    } else if (size == 0) {
        fuse_reply_xattr(req, value_size);
    } else if (size < value_size) {
        fuse_reply_err(req, ERANGE);
    } else {
        char *value = malloc(value_size > 0 ? value_size : 1);
        if (value == NULL) fuse_reply_err(req, ENOMEM);
        else if (sqfs_xattr_value(&x, value) != SQFS_OK) fuse_reply_err(req, EIO);
        else fuse_reply_buf(req, value, value_size);
        free(value);
    }
}

// Walks the names of `ino` once: counts the list's bytes in `*total` and, when `list` is not NULL, writes them
// there (the caller sized it from a first walk). A type the format does not define is an error (libsquashfuse's
// iterator refuses it before this check). Returns 0 or an errno.
static int walk_names(sqfs_ll_i *lli, char *list, size_t *total) {
    sqfs_xattr x;
    memset(&x, 0, sizeof x);
    *total = 0;
    if (sqfs_xattr_open(&lli->ll->fs, &lli->inode, &x) != SQFS_OK) return EIO;
    while (x.remain > 0) {
        if (sqfs_xattr_read(&x) != SQFS_OK) return EIO;
        unsigned type = x.entry.type & SQUASHFS_XATTR_PREFIX_MASK;
        if (type >= sizeof format_prefixes / sizeof format_prefixes[0]) continue;
        size_t prefix_length = strlen(format_prefixes[type]);
        size_t name_length = x.entry.size;
        if (list != NULL) {
            memcpy(list + *total, format_prefixes[type], prefix_length);
            if (sqfs_xattr_name(&x, list + *total + prefix_length, false) != SQFS_OK) return EIO;
            list[*total + prefix_length + name_length] = '\0';
        }
        *total += prefix_length + name_length + 1;
    }
    return 0;
}

void xar_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    sqfs_ll_i lli;
    if (sqfs_ll_iget(req, &lli, ino) != SQFS_OK) return;  // replied already
    size_t total = 0;
    int error = walk_names(&lli, NULL, &total);
    if (error != 0) {
        fuse_reply_err(req, error);
        return;
    }
    if (size == 0) {
        fuse_reply_xattr(req, total);
        return;
    }
    if (size < total) {
        fuse_reply_err(req, ERANGE);
        return;
    }
    char *list = malloc(total > 0 ? total : 1);
    if (list == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t written = 0;
    error = walk_names(&lli, list, &written);
    if (error != 0) fuse_reply_err(req, error);
    else fuse_reply_buf(req, list, written);
    free(list);
}
