#include "confine/seccomp_sigsys.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp trap (asm-generic/siginfo.h) */
#endif

/* The first three syscall arguments, as the trap left them in registers. */
#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
static uint64_t arg_reg(const ucontext_t *uc, int i)
{
	static const int regs[] = {REG_RDI, REG_RSI, REG_RDX};
	return (uint64_t)uc->uc_mcontext.gregs[regs[i]];
}
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
static uint64_t arg_reg(const ucontext_t *uc, int i)
{
	return uc->uc_mcontext.regs[i];
}
#endif

/* Generated from the compiler's <sys/syscall.h> (Makefile): a const table,
 * so the handler needs no allocation to name a syscall. */
static const char *const syscall_names[] = {
#include "syscall_names.h"
};

/* The one piece of mutable static state: the handler cannot ask which
 * thread it interrupted without a syscall the filter may forbid, so each
 * thread notes its kind here before its filter goes live. Thread-local,
 * written once by its own thread, read only by the handler on that thread. */
static _Thread_local struct {
	bool armed;
	enum confine_thread kind;
	pid_t tid;
} self;

const char *confine_syscall_name(long nr)
{
	if (nr < 0 || (unsigned long)nr >= sizeof(syscall_names) / sizeof(syscall_names[0]))
		return NULL;
	return syscall_names[nr];
}

/* Async-signal-safe formatting into a fixed buffer. */
struct line {
	char buf[256];
	size_t len;
};

static void put_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

static void put_num(struct line *l, uint64_t v, unsigned base)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof(tmp));
	if (base == 16)
		put_str(l, "0x");
	while (n && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = tmp[--n];
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	if (si->si_code != SYS_SECCOMP)
		return; /* sent by kill(): not ours to act on */
	struct line l = {.len = 0};
	put_str(&l, "mvmm: seccomp: ");
	if (self.armed) {
		put_str(&l, confine_thread_name(self.kind));
		put_str(&l, " thread ");
		put_num(&l, (uint64_t)self.tid, 10);
	} else {
		put_str(&l, "a thread that inherited its filter");
	}
	put_str(&l, " made forbidden syscall ");
	put_num(&l, (uint64_t)(unsigned)si->si_syscall, 10);
	put_str(&l, " (");
#ifdef NATIVE_AUDIT_ARCH
	const char *name = si->si_arch == NATIVE_AUDIT_ARCH
				   ? confine_syscall_name(si->si_syscall)
				   : "non-native ABI";
	put_str(&l, name ? name : "unknown");
	put_str(&l, ") args ");
	const ucontext_t *uc = ucv;
	for (int i = 0; i < 3; i++) {
		put_num(&l, arg_reg(uc, i), 16);
		put_str(&l, i < 2 ? ", " : "");
	}
#else
	(void)ucv;
	put_str(&l, "?)");
#endif
	put_str(&l, "\n");
	if (write(STDERR_FILENO, l.buf, l.len) < 0)
		(void)0; /* nothing better to do with a closed stderr */
	/* SIGSYS is blocked while this handler runs: a second forbidden call
	 * makes the kernel reset SIGSYS to its default and deliver it, so the
	 * process dies by SIGSYS (with a core, per RLIMIT_CORE) exactly as
	 * under SECCOMP_RET_KILL_PROCESS. No filter here allows seccomp(). */
	syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, NULL);
	_exit(128 + SIGSYS);
}

int confine_sigsys_arm(enum confine_thread kind)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	int r = pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (r)
		return -r;
	self.kind = kind;
	self.tid = gettid();
	self.armed = true;
	return 0;
}
