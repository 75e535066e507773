/* confine: mvmm's seccomp filters, one per thread kind, and the io_uring
 * restriction that covers what seccomp cannot see (docs/security.md).
 *
 * Threads: confine_seccomp_install() acts on the calling thread only; each
 * thread calls it once, after its setup and before it handles anything a
 * guest or an API client controls. A filter is inherited by threads created
 * after it is loaded, so the main thread installs its filter only once the
 * vCPU and API threads exist. */
#ifndef VMM_CONFINE_H
#define VMM_CONFINE_H

#include <stddef.h>

struct io_uring;

enum confine_thread {
	CONFINE_VCPU, /* KVM_RUN loop and the MMIO/PIO register handlers */
	CONFINE_MAIN, /* epoll loop: devices, discards, snapshots, API work */
	CONFINE_API,  /* libmicrohttpd's polling thread */
	CONFINE_THREAD_KINDS,
};

enum confine_action {
	CONFINE_KILL, /* default: a forbidden syscall kills mvmm with a line */
	CONFINE_LOG,  /* allowed, and logged by the kernel (dmesg, audit) */
	CONFINE_OFF,  /* no filter (NO_NEW_PRIVS is still set) */
};

/* What `--seccomp` and the config's "seccomp" field accept. */
#define CONFINE_ACTION_NAMES "kill, log or off"

/* "kill", "log" or "off" into *out; -EINVAL for anything else. */
int confine_action_parse(const char *s, enum confine_action *out);
const char *confine_action_name(enum confine_action a);
/* "vcpu", "main", "api"; "?" for a value out of range. */
const char *confine_thread_name(enum confine_thread t);

/* Sets PR_SET_NO_NEW_PRIVS, then loads the filter for kind on the calling
 * thread. With CONFINE_KILL a forbidden syscall prints
 *   mvmm: seccomp: <kind> thread <tid> made forbidden syscall N (name) ...
 * on stderr and the process dies by SIGSYS. Returns 0 or -errno, with a
 * message in err. Call at most once per thread. */
int confine_seccomp_install(enum confine_thread kind,
			    enum confine_action action, char *err,
			    size_t errlen);

/* Writes kind's filter as libseccomp's pseudo-filter text to fd (for
 * docs/security.md and debugging). 0 or -errno. */
int confine_seccomp_export(enum confine_thread kind,
			   enum confine_action action, int fd);

/* For a ring created with IORING_SETUP_R_DISABLED: allows only the
 * opcodes the discard engine submits (MADVISE, FALLOCATE) and, after this,
 * only IORING_UNREGISTER_EVENTFD among register operations; then enables
 * the ring. Ops run in kernel workers that seccomp does not filter, so
 * this is the ring's own allowlist. 0 or -errno, with a message in err. */
int confine_uring_restrict(struct io_uring *ring, char *err, size_t errlen);

#endif
