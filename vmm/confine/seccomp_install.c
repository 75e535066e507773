/* Builds a thread kind's filter with the chosen default action and loads
 * it on the calling thread. */
#include "confine/confine.h"
#include "confine/seccomp_filters.h"
#include "confine/seccomp_sigsys.h"

#include <errno.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

__attribute__((format(printf, 4, 5))) static int
fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = err && errlen ? vsnprintf(err, errlen, fmt, ap) : 0;
	va_end(ap);
	if (n >= 0 && err && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, ": %s", strerror(-r));
	return r;
}

/* Library state that is set up lazily on first use by opening a file:
 * done now, while opening files is still allowed, so that the API thread
 * (which may not open anything) never does it itself. */
static void prime_lazy_state(void)
{
	tzset();             /* glibc reads /etc/localtime on the first
			      * gmtime_r (MHD's Date header) */
	json_object_seed(0); /* jansson reads /dev/urandom on the first
			      * object (an error body made on the API thread) */
}

static int build(enum confine_thread kind, enum confine_action action,
		 uint32_t default_action, scmp_filter_ctx *out, char *err,
		 size_t errlen)
{
	const char *name = confine_thread_name(kind);
	scmp_filter_ctx ctx = seccomp_init(default_action);
	if (!ctx)
		return fail(err, errlen, -ENOMEM, "seccomp: %s filter", name);
	/* A syscall through another ABI (int 0x80, x32) has other numbers:
	 * the allowlist does not apply to it, so it always kills. */
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
				 SCMP_ACT_KILL_PROCESS);
	if (r)
		goto err;
	/* Best effort, older kernels lack them: a binary tree for the long
	 * lists (KVM_RUN exits go through this filter), and a kernel log
	 * record of each trap as well as our own line. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (action == CONFINE_KILL)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	if ((r = confine_rules_add(ctx, kind)))
		goto err;
	*out = ctx;
	return 0;
err:
	seccomp_release(ctx);
	return fail(err, errlen, r, "seccomp: %s filter", name);
}

static int check_args(enum confine_thread kind, enum confine_action action)
{
	if ((unsigned)kind >= CONFINE_THREAD_KINDS)
		return -EINVAL;
	if (action != CONFINE_KILL && action != CONFINE_LOG &&
	    action != CONFINE_OFF)
		return -EINVAL;
	return 0;
}

int confine_seccomp_install(enum confine_thread kind,
			    enum confine_action action, char *err,
			    size_t errlen)
{
	if (check_args(kind, action))
		return fail(err, errlen, -EINVAL, "seccomp: thread kind %d, action %d",
			    (int)kind, (int)action);
	/* First, whatever follows: no exec can ever gain privileges again,
	 * and an unprivileged thread may then load a filter. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, -errno, "PR_SET_NO_NEW_PRIVS");
	if (action == CONFINE_OFF)
		return 0;
	prime_lazy_state();

	uint32_t dflt = action == CONFINE_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	/* Without our handler a trap would kill silently: let the kernel kill
	 * the process instead, which at least logs it. */
	if (action == CONFINE_KILL && confine_sigsys_arm(kind))
		dflt = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	int r = build(kind, action, dflt, &ctx, err, errlen);
	if (r)
		return r;
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r)
		return fail(err, errlen, r, "seccomp: loading the %s filter",
			    confine_thread_name(kind));
	return 0;
}

int confine_seccomp_export(enum confine_thread kind,
			   enum confine_action action, int fd)
{
	if (check_args(kind, action) || action == CONFINE_OFF)
		return -EINVAL;
	scmp_filter_ctx ctx;
	uint32_t dflt = action == CONFINE_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	int r = build(kind, action, dflt, &ctx, NULL, 0);
	if (r)
		return r;
	r = seccomp_export_pfc(ctx, fd);
	seccomp_release(ctx);
	return r;
}
