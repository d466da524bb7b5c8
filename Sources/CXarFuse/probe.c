// Asking a mount whether its FUSE server answers, without ever waiting on it without bound. In C because the child
// of fork() must run no Swift code.
//
// Any access to a FUSE mount waits for its server: for ever when the server is stopped (SIGSTOP) or stuck. A
// request the server has not read yet can be cancelled by killing the waiting process, so the question is asked
// by a child, which is killed when it takes too long; the caller is never the one waiting.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "CXarFuse.h"

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int xar_probe_statfs(const char *path, int timeout_ms) {
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
        struct statvfs status;
        if (statvfs(path, &status) == 0) _exit(0);
        _exit(errno == ENOTCONN || errno == ECONNABORTED ? 1 : 2);
    }
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int status = 0;
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            if (!WIFEXITED(status)) return XAR_PROBE_NO_ANSWER;
            return WEXITSTATUS(status) == 0 ? XAR_PROBE_ALIVE : WEXITSTATUS(status) == 1 ? XAR_PROBE_DEAD : XAR_PROBE_ERROR;
        }
        if (done < 0 && errno != EINTR) return -errno;
        if (now_ms() >= deadline) break;
        usleep(2000);
    }
    // No answer in time: the child is killed (a request the server never read is cancelled with it) and reaped if
    // it goes at once; one stuck for good is left to init.
    kill(pid, SIGKILL);
    for (int i = 0; i < 50 && waitpid(pid, NULL, WNOHANG) == 0; i++) usleep(2000);
    return XAR_PROBE_NO_ANSWER;
}
