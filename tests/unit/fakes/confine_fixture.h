/* The harness of the seccomp tests (tests/unit/confine_*_test.c). */
#ifndef MVMM_TEST_CONFINE_FIXTURE_H
#define MVMM_TEST_CONFINE_FIXTURE_H

#include "confine/confine.h"

typedef int (*child_fn)(void *arg);

struct outcome {
	int status;     /* waitpid's */
	char err[1024]; /* the child's stderr */
};

/* Forks; the child runs setup (unconfined), installs kind's filter with
 * action, then runs body and exits with its return value. Exit 100: the
 * install failed (its message is in err). */
struct outcome run_confined(enum confine_thread kind, enum confine_action action,
			    child_fn setup, child_fn body, void *arg);
/* run_confined with the kill action and no setup. */
struct outcome run_kill(enum confine_thread kind, child_fn body, void *arg);
void expect_allowed(const struct outcome *o);
/* Killed by SIGSYS, with the report naming the thread kind and syscall. */
void expect_killed(const struct outcome *o, const char *kind,
		   const char *syscall_name);

/* Bodies several thread kinds share: 0 when the call returned. */
int do_socket(void *arg);
int do_mmap_exec(void *arg);
int do_mprotect_exec(void *arg);
int do_madvise_hugepage(void *arg);
int do_memory(void *arg); /* malloc/free large and small, a discard */
int do_fork(void *arg);
int do_execve(void *arg);

/* /dev/null, opened before the filter: ioctls on it reach the filter, then
 * fail with ENOTTY in the kernel. */
extern int confine_devnull;
int open_devnull(void *arg);
/* The ioctl *(unsigned long *)arg on confine_devnull. */
int do_ioctl(void *arg);
struct outcome run_ioctl(enum confine_thread kind, unsigned long req);

#endif
