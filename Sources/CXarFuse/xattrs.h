// The xattr requests of the FUSE server, answered over libsquashfuse's xattr iterator.
#ifndef XAR_XATTRS_H
#define XAR_XATTRS_H

// Include after <fuse_lowlevel.h> (with FUSE_USE_VERSION defined).

// FUSE getxattr: the value of `name` on `ino`, or its size when `size` is 0.
void xar_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);

// FUSE listxattr: the NUL-separated names on `ino`, or the list's size when `size` is 0.
void xar_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);

#endif
