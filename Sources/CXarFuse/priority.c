// Lowering a helper thread's priority: what Swift cannot call (the ioprio_set system call has no libc wrapper).
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "CXarFuse.h"
#include "support.h"

// linux/ioprio.h: the class in the top bits of the value, "who" is a thread id for IOPRIO_WHO_PROCESS.
#define XAR_IOPRIO_CLASS_IDLE 3
#define XAR_IOPRIO_CLASS_SHIFT 13
#define XAR_IOPRIO_WHO_PROCESS 1

void xar_thread_lower_priority(void) {
    pid_t thread = (pid_t)syscall(SYS_gettid);
    // Linux applies both to the one thread named (setpriority's process id is a thread id here).
    (void)setpriority(PRIO_PROCESS, (id_t)thread, 19);
    (void)syscall(SYS_ioprio_set, XAR_IOPRIO_WHO_PROCESS, thread, XAR_IOPRIO_CLASS_IDLE << XAR_IOPRIO_CLASS_SHIFT);
}
