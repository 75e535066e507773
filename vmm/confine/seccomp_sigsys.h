/* The SIGSYS handler behind CONFINE_KILL: a forbidden syscall traps, the
 * handler writes one line naming the thread and the syscall, then mvmm dies
 * by SIGSYS as SECCOMP_RET_KILL_PROCESS would. Private to vmm/confine/. */
#ifndef VMM_CONFINE_SECCOMP_SIGSYS_H
#define VMM_CONFINE_SECCOMP_SIGSYS_H

#include "confine/confine.h"

/* For the calling thread: records kind and tid for the handler, installs
 * the (process-wide) handler and unblocks SIGSYS, which the API thread
 * inherits blocked. 0 or -errno. */
int confine_sigsys_arm(enum confine_thread kind);

/* The name of syscall nr on this architecture, or NULL. */
const char *confine_syscall_name(long nr);

#endif
