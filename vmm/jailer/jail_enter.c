/* The jailer's own process: fds, limits, namespaces, the pivot into the
 * jail and the privilege drop. */
#include "jailer/jailer.h"

#include <core/err.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int jail_close_fds(void)
{
	if (close_range(3, ~0U, 0) == 0)
		return 0;
	/* Kernels before 5.9. */
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max > 0 ? max : 65536); fd++)
		close((int)fd);
	return 0;
}

int jail_set_rlimits(const struct jail_args *a, char *err, size_t errlen)
{
	/* Soft and hard alike: mvmm cannot raise them again. */
	rlim_t nofile = a->has_nofile ? a->nofile : JAIL_DEFAULT_NOFILE;
	struct rlimit rl = {nofile, nofile};
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return err_set_sys(err, errlen, -errno, "--resource-limit no-file=%llu",
			    (unsigned long long)nofile);
	if (a->has_fsize) {
		rl = (struct rlimit){a->fsize, a->fsize};
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			return err_set_sys(err, errlen, -errno, "--resource-limit fsize=%llu",
				    (unsigned long long)a->fsize);
	}
	return 0;
}

int jail_join_netns(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set_sys(err, errlen, -errno, "--netns: %s", path);
	int r = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return r ? err_set_sys(err, errlen, r, "--netns: joining %s", path) : 0;
}

int jail_pivot(const char *root, char *err, size_t errlen)
{
	if (unshare(CLONE_NEWNS) < 0)
		return err_set_sys(err, errlen, -errno, "unshare(CLONE_NEWNS)");
	/* Nothing below propagates back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_set_sys(err, errlen, -errno, "making / private");
	/* pivot_root wants a mount point: root bound on itself. */
	if (mount(root, root, NULL, MS_BIND, NULL) < 0)
		return err_set_sys(err, errlen, -errno, "bind-mounting %s", root);
	if (mount(NULL, root, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID, NULL) < 0)
		return err_set_sys(err, errlen, -errno, "remounting %s nosuid", root);
	if (chdir(root) < 0)
		return err_set_sys(err, errlen, -errno, "chdir %s", root);
	/* pivot_root(2)'s own idiom: the old root lands on top of the new
	 * one and is detached at once, so no old_root directory is needed. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return err_set_sys(err, errlen, -errno, "pivot_root into %s", root);
	if (umount2(".", MNT_DETACH) < 0)
		return err_set_sys(err, errlen, -errno, "detaching the old root");
	if (chdir("/") < 0)
		return err_set_sys(err, errlen, -errno, "chdir /");
	return 0;
}

static int caps_set(uint64_t eff, uint64_t perm)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)eff, (uint32_t)perm, 0},
		{(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), 0},
	};
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

static int caps_get(uint64_t *eff, uint64_t *perm, uint64_t *inh)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

#define UNDO_CAPS (1ULL << CAP_DAC_OVERRIDE)

int jail_drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	/* While still privileged: nothing can be regained by exec. The
	 * bounding set masks even root's and file capabilities at exec. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return err_set_sys(err, errlen, -errno, "clearing ambient capabilities");
	for (unsigned long cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return err_set_sys(err, errlen, -errno, "dropping capability %lu", cap);
	/* Keep CAP_DAC_OVERRIDE permitted, not effective, across the uid
	 * change: a failed exec can then still undo the jail (root's files).
	 * execve recomputes the permitted set from the empty bounding,
	 * inheritable and ambient sets, so mvmm starts with none. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return err_set_sys(err, errlen, -errno, "PR_SET_KEEPCAPS");
	if (setgroups(0, NULL) < 0)
		return err_set_sys(err, errlen, -errno, "setgroups");
	if (setresgid(gid, gid, gid) < 0)
		return err_set_sys(err, errlen, -errno, "--gid %u: setresgid", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return err_set_sys(err, errlen, -errno, "--uid %u: setresuid", (unsigned)uid);
	int r = caps_set(0, UNDO_CAPS);
	uint64_t eff = 0, perm = 0, inh = 0;
	if (!r)
		r = caps_get(&eff, &perm, &inh);
	if (r)
		return err_set_sys(err, errlen, r, "capset");
	if (eff || inh || (perm & ~UNDO_CAPS))
		return err_set_sys(err, errlen, -EPERM,
			    "capabilities left: effective %#llx permitted %#llx",
			    (unsigned long long)eff, (unsigned long long)perm);
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg) || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return err_set_sys(err, errlen, -EPERM, "uid/gid did not change");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set_sys(err, errlen, -errno, "PR_SET_NO_NEW_PRIVS");
	return 0;
}

int jail_raise_for_undo(void)
{
	return caps_set(UNDO_CAPS, UNDO_CAPS);
}

int jail_drop_all_caps(void)
{
	return caps_set(0, 0);
}
