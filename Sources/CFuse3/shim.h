// Present only so that CXarFuse gets libfuse3's include path from pkg-config; never imported from Swift,
// because fuse3's headers next to squashfuse's config.h break `struct stat` in the Swift importer.
#define FUSE_USE_VERSION 32
#include <fuse_lowlevel.h>
