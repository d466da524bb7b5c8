// Detaching the server from whoever started it. In C because the child of fork() must run no Swift code
// before it is a clean single-threaded process of its own, and because prctl() is variadic.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "CXarFuse.h"

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int xar_detach(const char *name, int stderr_fd, const int *keep, int keep_count) {
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid > 0) _exit(0);

    setsid();
    // Staying in the launcher's directory would pin that directory's file system for the server's lifetime.
    int moved = chdir("/");
    (void)moved;
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(stderr_fd >= 0 ? stderr_fd : null_fd, 2);
    }

    // Close everything above 2 except the kept descriptors, in the gaps between them.
    int sorted[16];
    int count = 0;
    for (int i = 0; i < keep_count && count < 16; i++)
        if (keep[i] > 2) sorted[count++] = keep[i];
    qsort(sorted, (size_t)count, sizeof sorted[0], compare_ints);
    unsigned int low = 3;
    for (int i = 0; i < count; i++) {
        if ((unsigned int)sorted[i] > low) close_range(low, (unsigned int)sorted[i] - 1, 0);
        low = (unsigned int)sorted[i] + 1;
    }
    close_range(low, ~0u, 0);

    prctl(PR_SET_NAME, name, 0, 0, 0);
    return 0;
}
