/* mvmm-jailer: confines one mvmm (docs/security.md, jailer.h for the
 * order of operations). Exit status: 2 for a bad flag, 1 when the jail
 * cannot be built or entered (nothing of it is left), else mvmm's own
 * (in place, or forwarded by the waiting parent of --new-pid-ns). */
#include "jailer/jailer.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define ERR_LEN 768

struct jail {
	struct jail_args a;
	struct jail_tree tree;
	struct jail_cgroup_state cg;
	char err[ERR_LEN];
};

static void undo(struct jail *j)
{
	jail_cgroup_undo(&j->cg);
	jail_tree_undo(&j->tree);
	jail_cgroup_release(&j->cg);
	jail_tree_release(&j->tree);
}

static int die(struct jail *j, int status)
{
	fprintf(stderr, "mvmm-jailer: %s\n", j->err);
	undo(j);
	return status;
}

/* mvmm's own variables pass (MVMM_DIRTY_LOG...); the rest of the
 * environment stays outside, as Firecracker's jailer clears it all. */
static char **jail_env(void)
{
	extern char **environ;
	size_t n = 0;
	for (char **e = environ; e && *e; e++)
		n += !strncmp(*e, "MVMM_", 5);
	char **out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	n = 0;
	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, "MVMM_", 5))
			out[n++] = *e;
	return out;
}

/* The jail's own filesystem must let mvmm exec and open /dev/kvm. */
static int check_mount_flags(struct jail *j)
{
	struct statvfs sv;
	if (statvfs(j->tree.root, &sv) < 0) {
		snprintf(j->err, sizeof(j->err), "statvfs %s: %s", j->tree.root,
			 strerror(errno));
		return -EIO;
	}
	if (sv.f_flag & (ST_NOEXEC | ST_NODEV)) {
		snprintf(j->err, sizeof(j->err),
			 "--chroot-base-dir: %s is on a %s filesystem; mvmm could not %s",
			 j->a.base_dir, sv.f_flag & ST_NOEXEC ? "noexec" : "nodev",
			 sv.f_flag & ST_NOEXEC ? "run there" : "open dev/kvm");
		return -EPERM;
	}
	return 0;
}

/* Drops privileges and execs mvmm; returns only on failure, with err. */
static int exec_mvmm(struct jail *j, const sigset_t *mask)
{
	int r = jail_drop_privileges(j->a.uid, j->a.gid, j->err, sizeof(j->err));
	if (r)
		return r;
	char **env = jail_env();
	size_t n = (size_t)j->a.exec_argc;
	char **argv = calloc(n + 2, sizeof(*argv));
	char path[256];
	snprintf(path, sizeof(path), "/%s", j->a.exec_name);
	if (!env || !argv) {
		snprintf(j->err, sizeof(j->err), "out of memory");
		return -ENOMEM;
	}
	argv[0] = (char *)j->a.exec_name;
	memcpy(argv + 1, j->a.exec_argv, n * sizeof(*argv));
	umask(077); /* mvmm's sockets and snapshots are its own */
	sigprocmask(SIG_SETMASK, mask, NULL);
	execve(path, argv, env);
	r = -errno;
	snprintf(j->err, sizeof(j->err), "exec %s in %s: %s", path, j->tree.root,
		 strerror(-r));
	free(argv);
	free(env);
	return r;
}

/* What the waiting parent passes on to mvmm; SIGCHLD ends the wait. */
static void forwarded_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
}

/* mvmm's exit status as the jailer's (128 + signal if it was killed). */
static int wait_forwarding(pid_t pid)
{
	sigset_t set;
	forwarded_signals(&set);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);
		if (sig < 0 && errno == EINTR)
			continue;
		if (sig < 0)
			return JAIL_EXIT_FAIL;
		if (sig != SIGCHLD) {
			kill(pid, sig);
			continue;
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
}

/* --new-pid-ns or --daemonize: a child execs mvmm (pid 1 of the new
 * namespace); a CLOEXEC pipe tells the parent whether the exec happened.
 * The parent undoes the jail if not, else returns (daemonize) or waits and
 * forwards signals and the exit status. */
/* Firecracker's <exec name>.pid, in the jail's root: mvmm's pid as the
 * host sees it, when mvmm is pid 1 of its own namespace. */
static void write_pidfile(const struct jail *j, pid_t pid)
{
	char pidfile[256], num[24];
	snprintf(pidfile, sizeof(pidfile), "/%s.pid", j->a.exec_name);
	int fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	int len = snprintf(num, sizeof(num), "%d\n", (int)pid);
	if (fd < 0 || write(fd, num, (size_t)len) != len)
		fprintf(stderr, "mvmm-jailer: %s: %s\n", pidfile, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The forked child: detached if asked, then mvmm. Only returns through
 * _exit, after writing why the exec failed to err_fd. */
static noreturn void child(struct jail *j, const sigset_t *orig, int devnull,
			   int err_fd)
{
	if (j->a.daemonize) {
		if (setsid() < 0 || dup2(devnull, 0) < 0 ||
		    dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
			snprintf(j->err, sizeof(j->err), "--daemonize: %s",
				 strerror(errno));
		else
			exec_mvmm(j, orig);
	} else {
		exec_mvmm(j, orig);
	}
	if (write(err_fd, j->err, strlen(j->err)) < 0)
		(void)0;
	_exit(JAIL_EXIT_FAIL);
}

static int run_child(struct jail *j, const sigset_t *orig)
{
	int devnull = -1, p[2];
	if (j->a.daemonize && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		snprintf(j->err, sizeof(j->err), "/dev/null in the jail: %s",
			 strerror(errno));
		return die(j, JAIL_EXIT_FAIL);
	}
	if (j->a.new_pid_ns && unshare(CLONE_NEWPID) < 0) {
		snprintf(j->err, sizeof(j->err), "--new-pid-ns: unshare: %s",
			 strerror(errno));
		return die(j, JAIL_EXIT_FAIL);
	}
	/* Blocked before the fork so none is lost; the child restores orig. */
	sigset_t fwd;
	forwarded_signals(&fwd);
	if (!j->a.daemonize)
		sigprocmask(SIG_BLOCK, &fwd, NULL);
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(j->err, sizeof(j->err), "pipe: %s", strerror(errno));
		return die(j, JAIL_EXIT_FAIL);
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(j->err, sizeof(j->err), "fork: %s", strerror(errno));
		return die(j, JAIL_EXIT_FAIL);
	}
	if (pid == 0)
		child(j, orig, devnull, p[1]);
	close(p[1]);
	if (devnull >= 0)
		close(devnull);
	char msg[ERR_LEN];
	ssize_t got = read(p[0], msg, sizeof(msg) - 1);
	close(p[0]);
	if (got > 0) {
		waitpid(pid, NULL, 0); /* out of the cgroup before it goes */
		msg[got] = 0;
		snprintf(j->err, sizeof(j->err), "%s", msg);
		return die(j, JAIL_EXIT_FAIL);
	}
	if (j->a.new_pid_ns)
		write_pidfile(j, pid);
	jail_cgroup_release(&j->cg);
	jail_tree_release(&j->tree);
	if (j->a.daemonize)
		return 0;
	/* Waiting is all that is left: no privilege for it. */
	if (jail_drop_privileges(j->a.uid, j->a.gid, j->err, sizeof(j->err)) ||
	    jail_drop_all_caps())
		fprintf(stderr, "mvmm-jailer: waiting parent: %s\n", j->err);
	return wait_forwarding(pid);
}

int main(int argc, char **argv)
{
	struct jail *j = calloc(1, sizeof(*j));
	if (!j)
		return JAIL_EXIT_FAIL;
	j->tree.anchor_fd = j->tree.root_fd = j->cg.mount_fd = -1;
	if (jail_args_parse(argc, argv, &j->a, j->err, sizeof(j->err)) ||
	    (!j->a.help && jail_args_check_paths(&j->a, j->err, sizeof(j->err)))) {
		fprintf(stderr, "mvmm-jailer: %s\n", j->err);
		return JAIL_EXIT_USAGE;
	}
	if (j->a.help) {
		jail_usage(stdout);
		return 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "mvmm-jailer: must run as root (mknod, mounts, "
				"cgroups, setuid)\n");
		return JAIL_EXIT_FAIL;
	}
	jail_close_fds();
	umask(0); /* modes below are exact */
	if (jail_tree_build(&j->tree, &j->a, j->err, sizeof(j->err)) ||
	    check_mount_flags(j) ||
	    jail_set_rlimits(&j->a, j->err, sizeof(j->err)) ||
	    jail_cgroup_setup(&j->cg, &j->a, j->err, sizeof(j->err)) ||
	    (j->a.netns && jail_join_netns(j->a.netns, j->err, sizeof(j->err))) ||
	    jail_pivot(j->tree.root, j->err, sizeof(j->err)))
		return die(j, JAIL_EXIT_FAIL);

	sigset_t orig;
	sigprocmask(SIG_SETMASK, NULL, &orig);
	if (j->a.new_pid_ns || j->a.daemonize)
		return run_child(j, &orig);
	exec_mvmm(j, &orig);
	jail_raise_for_undo();
	return die(j, JAIL_EXIT_FAIL);
}
