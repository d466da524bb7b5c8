// Order matters: the system headers first, then FUSE, then squashfuse, whose config.h redefines
// _POSIX_C_SOURCE and would otherwise hide st_ctim from struct stat.
#include <sys/types.h>
#include <sys/stat.h>
#include <stdint.h>
#define FUSE_USE_VERSION 32
#include <fuse_lowlevel.h>
#include <squashfuse/ll.h>

#include "CXarFuse.h"

int xar_fuse_library_version(void) { return fuse_version(); }
