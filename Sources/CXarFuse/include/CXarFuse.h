// The C side of the FUSE server: everything that must touch libfuse3 or libsquashfuse directly.
// This header is what Swift sees; it includes no fuse or squashfuse header on purpose (see docs/building.md).
#ifndef CXARFUSE_H
#define CXARFUSE_H

#include <stdint.h>

/// The libfuse3 version this server is linked against, as libfuse reports it (e.g. 314 for 3.14).
int xar_fuse_library_version(void);

#endif
