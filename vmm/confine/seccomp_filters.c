/* Per-thread syscall allowlists. Each entry was seen under `strace -f` of a
 * running mvmm (tests/confine/trace_syscalls.sh) or is reached by a code
 * path named beside it; docs/security.md has the lists and the method.
 * Setup (KVM_CREATE_*, io_uring_setup, socket, clone...) is over before a
 * filter is loaded, so none of it appears here. */
#include "confine/seccomp_filters.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/ioctl.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Every thread: glibc's own plumbing and the logger. */
static const int common_syscalls[] = {
	SCMP_SYS(futex),           /* mutexes, condvars, pthread_join */
	SCMP_SYS(exit),            /* a thread returning */
	SCMP_SYS(exit_group),      /* exit(), _exit() */
	SCMP_SYS(rt_sigreturn),    /* end of a signal handler (vCPU kick) */
	SCMP_SYS(rt_sigprocmask),  /* pthread_kill and thread exit mask signals */
	SCMP_SYS(restart_syscall), /* an interrupted wait resumes */
	SCMP_SYS(clock_gettime),   /* the vDSO falls back to these on clock */
	SCMP_SYS(gettimeofday),    /* sources it cannot read itself */
	SCMP_SYS(write),           /* stderr log lines, eventfds */
	SCMP_SYS(munmap),          /* free() of large blocks, arena trims */
	SCMP_SYS(mremap),          /* realloc() of large blocks */
	SCMP_SYS(brk),             /* malloc's main arena, any thread may use it */
};

/* vCPU threads, beyond the common set. No file access at all: the filter
 * goes on after vm_log_startup's read of /proc/self/status. */
static const int vcpu_syscalls[] = {
	SCMP_SYS(getpid), /* pthread_kill: vm_request_exit kicks every */
	SCMP_SYS(gettid), /* vCPU, this one included */
	SCMP_SYS(tgkill),
	SCMP_SYS(mlock),  /* a balloon reset re-locks pages (mem_lock) */
	SCMP_SYS(timerfd_settime), /* the console's batch timer */
};

/* Beyond these, each arch's table (seccomp_<arch>.c). */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,               /* the run loop and vcpu_complete_io */
	KVM_RESET_DIRTY_RINGS, /* KVM_EXIT_DIRTY_RING_FULL: harvest and go on */
};

/* The main loop, beyond the common set. */
static const int main_syscalls[] = {
	SCMP_SYS(epoll_wait),      /* event_loop_run */
	SCMP_SYS(epoll_pwait),     /* (the only epoll wait on some arches) */
	SCMP_SYS(epoll_ctl),       /* stdin EOF, reclaim timer, API stop */
	SCMP_SYS(read),            /* eventfds, timerfds, signalfd, stdin */
	SCMP_SYS(close),           /* snapshot files, teardown */
	SCMP_SYS(getpid),          /* pthread_kill (pause, exit) and the */
	SCMP_SYS(gettid),          /* snapshot temp names */
	SCMP_SYS(tgkill),
	SCMP_SYS(timerfd_create),  /* the reclaim timer, made on first use */
	SCMP_SYS(timerfd_settime), /* stats interval, reclaim deadline */
	SCMP_SYS(io_uring_enter),  /* discard submit and reap */
	SCMP_SYS(mlock),           /* mvmm_mem_lock: pin on deflate, */
	SCMP_SYS(munlock),         /* unpin on inflate */
	SCMP_SYS(openat),          /* snapshot/create: its files and their */
	SCMP_SYS(newfstatat),      /* directory; the memory file's size */
	SCMP_SYS(fstat),
	SCMP_SYS(lseek),           /* SEEK_DATA/SEEK_HOLE over memfd RAM */
	SCMP_SYS(pwrite64),        /* the memory file */
	SCMP_SYS(ftruncate),       /* its size */
	SCMP_SYS(fsync),           /* commit: file, then directory */
	SCMP_SYS(rename),          /* temp name into place */
	SCMP_SYS(unlink),          /* a failed snapshot, the API socket */
	SCMP_SYS(poll),            /* console_drain at exit waits for a slow */
	SCMP_SYS(ppoll),           /* reader (poll's only form on some arches) */
	SCMP_SYS(sysinfo),         /* glibc's qsort sizes its buffer by RAM, */
				   /* once (balloon ranges, discard batches) */
};

static const unsigned long main_ioctls[] = {
	KVM_CHECK_EXTENSION,        /* XSAVE2/XCRS sizes when saving a vCPU */
	KVM_SET_USER_MEMORY_REGION, /* dirty logging on and off (reclaim) */
	KVM_GET_DIRTY_LOG,          /* bitmap mode */
	KVM_RESET_DIRTY_RINGS,      /* ring mode */
	TCSETS,                     /* terminal_restore at exit */
};

/* The API thread (api_server.c's loop around libmicrohttpd), beyond the
 * common set. No ioctl, no open. */
static const int api_syscalls[] = {
	SCMP_SYS(poll),       /* the thread's own wait: wake fd, MHD, listener */
	SCMP_SYS(ppoll),      /* (poll's only form on some arches) */
	SCMP_SYS(epoll_wait), /* MHD_run on MHD's epoll set */
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl),  /* connections come and go */
	SCMP_SYS(accept4),    /* a client connects */
	SCMP_SYS(fcntl),      /* MHD_add_connection checks O_NONBLOCK */
	SCMP_SYS(setsockopt), /* MHD's per-connection socket options */
	SCMP_SYS(recvfrom),   /* request bytes */
	SCMP_SYS(sendto),     /* response bytes */
	SCMP_SYS(sendmsg),    /* header + body in one call */
	SCMP_SYS(shutdown),   /* closing a connection */
	SCMP_SYS(close),
	SCMP_SYS(read),       /* MHD's inter-thread eventfd */
};

static int allow_list(scmp_filter_ctx ctx, const int *nrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (nrs[i] < 0)
			continue; /* libseccomp's pseudo number: not on this arch */
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);
		if (r)
			return r;
	}
	return 0;
}

static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *reqs,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					 SCMP_A1(SCMP_CMP_EQ, reqs[i]));
		if (r)
			return r;
	}
	return 0;
}

/* Memory for every thread: never executable (no new code, however the
 * thread was subverted), anonymous only (no mapping of a KVM or file fd
 * after setup), and the one piece of advice free() and discards use. */
static int allow_memory(scmp_filter_ctx ctx)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 2,
				 SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0),
				 SCMP_A3(SCMP_CMP_MASKED_EQ, MAP_ANONYMOUS,
					 MAP_ANONYMOUS));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(madvise), 1,
				     SCMP_A2(SCMP_CMP_EQ, MADV_DONTNEED));
	return r;
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONFINE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CONFINE_ASAN 1
#endif

/* Sanitizer builds only (make unit-asan, SAN=1): AddressSanitizer's runtime
 * reads and tears down alternate signal stacks (before noreturn calls, at
 * thread exit) and advises its allocator's regions. */
static int allow_sanitizer(scmp_filter_ctx ctx)
{
#ifdef CONFINE_ASAN
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sigaltstack), 0);
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(madvise), 1,
				     SCMP_A2(SCMP_CMP_EQ, MADV_NOHUGEPAGE));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(madvise), 1,
				     SCMP_A2(SCMP_CMP_EQ, MADV_DONTDUMP));
	return r;
#else
	(void)ctx;
	return 0;
#endif
}

static int allow_common(scmp_filter_ctx ctx)
{
	int r = allow_list(ctx, common_syscalls, ARRAY_LEN(common_syscalls));
	if (!r)
		r = allow_memory(ctx);
	return r ? r : allow_sanitizer(ctx);
}

int confine_rules_vcpu(scmp_filter_ctx ctx)
{
	const struct confine_arch_rules *a = &confine_arch_rules;
	int r = allow_common(ctx);
	if (!r)
		r = allow_list(ctx, vcpu_syscalls, ARRAY_LEN(vcpu_syscalls));
	if (!r)
		r = allow_ioctls(ctx, vcpu_ioctls, ARRAY_LEN(vcpu_ioctls));
	if (!r)
		r = allow_ioctls(ctx, a->vcpu_ioctls, a->nr_vcpu_ioctls);
	return r;
}

int confine_rules_main(scmp_filter_ctx ctx)
{
	const struct confine_arch_rules *a = &confine_arch_rules;
	int r = allow_common(ctx);
	if (!r)
		r = allow_list(ctx, main_syscalls, ARRAY_LEN(main_syscalls));
	if (!r)
		r = allow_list(ctx, a->main_syscalls, a->nr_main_syscalls);
	if (!r)
		r = allow_ioctls(ctx, main_ioctls, ARRAY_LEN(main_ioctls));
	if (!r)
		r = allow_ioctls(ctx, a->main_ioctls, a->nr_main_ioctls);
	/* The synchronous discard of memfd RAM (discard_batch.c). */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fallocate), 1,
				     SCMP_A1(SCMP_CMP_EQ,
					     FALLOC_FL_PUNCH_HOLE |
						     FALLOC_FL_KEEP_SIZE));
	/* io_open_regular makes a file it opened non-blocking blocking
	 * again (snapshot/create's files); the console sets and restores
	 * its output's flags. Other commands (locks, F_SETFD...) stay out. */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				     SCMP_A1(SCMP_CMP_EQ, F_GETFL));
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				     SCMP_A1(SCMP_CMP_EQ, F_SETFL));
	/* The ring is set up before the filter: only its eventfd goes at
	 * teardown (discard_uring_destroy). */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				     SCMP_SYS(io_uring_register), 1,
				     SCMP_A1(SCMP_CMP_EQ,
					     IORING_UNREGISTER_EVENTFD));
	return r;
}

int confine_rules_api(scmp_filter_ctx ctx)
{
	int r = allow_common(ctx);
	return r ? r : allow_list(ctx, api_syscalls, ARRAY_LEN(api_syscalls));
}

int confine_rules_add(scmp_filter_ctx ctx, enum confine_thread kind)
{
	switch (kind) {
	case CONFINE_VCPU:
		return confine_rules_vcpu(ctx);
	case CONFINE_MAIN:
		return confine_rules_main(ctx);
	case CONFINE_API:
		return confine_rules_api(ctx);
	default:
		return -EINVAL;
	}
}
