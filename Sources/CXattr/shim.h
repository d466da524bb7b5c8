// <sys/xattr.h>, which Swift's Glibc module does not export; glibc itself provides the functions, so there is
// nothing to link. Used by xarbuild to notice extended attributes in its input and to read them (--xattrs).
#include <sys/types.h>
#include <sys/xattr.h>
