/* The harness of the seccomp tests: a forked child installs one thread
 * kind's filter and makes one call; and the calls several kinds share. */
#include "fakes/confine_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>


/* Forks; the child runs setup (unconfined), installs kind's filter with
 * action, then runs body and exits with its return value. Exit 100: the
 * install failed (its message is in err). */
struct outcome run_confined(enum confine_thread kind,
				   enum confine_action action, child_fn setup,
				   child_fn body, void *arg)
{
	struct outcome o;
	memset(&o, 0, sizeof(o));
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		int r = setup ? setup(arg) : 0;
		if (r)
			_exit(r);
		char err[256];
		if (confine_seccomp_install(kind, action, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			_exit(100);
		}
		_exit(body(arg));
	}
	close(p[1]);
	size_t n = 0;
	ssize_t got;
	while ((got = read(p[0], o.err + n, sizeof(o.err) - 1 - n)) > 0)
		n += (size_t)got;
	close(p[0]);
	cr_assert_eq(waitpid(pid, &o.status, 0), pid);
	return o;
}

void expect_allowed(const struct outcome *o)
{
	cr_assert(WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0,
		  "child: status 0x%x, stderr: %s", o->status, o->err);
}

/* Killed by SIGSYS, with the report naming the thread kind and syscall. */
void expect_killed(const struct outcome *o, const char *kind,
			  const char *syscall_name)
{
	cr_assert(WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGSYS,
		  "child: status 0x%x, stderr: %s", o->status, o->err);
	char want[96];
	snprintf(want, sizeof(want), "mvmm: seccomp: %s thread ", kind);
	cr_assert(strstr(o->err, want), "no report in: %s", o->err);
	snprintf(want, sizeof(want), "(%s)", syscall_name);
	cr_assert(strstr(o->err, want), "syscall not named in: %s", o->err);
}

struct outcome run_kill(enum confine_thread kind, child_fn body, void *arg)
{
	return run_confined(kind, CONFINE_KILL, NULL, body, arg);
}


int do_socket(void *arg)
{
	(void)arg;
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}

int do_mmap_exec(void *arg)
{
	(void)arg;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 1 : 0;
}

int do_mprotect_exec(void *arg)
{
	(void)arg;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	return mprotect(p, 4096, PROT_READ | PROT_EXEC) ? 1 : 0;
}

int do_madvise_hugepage(void *arg)
{
	(void)arg;
	void *p = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	madvise(p, 4 << 20, MADV_HUGEPAGE);
	return 0;
}

/* What malloc and free do, large and small, and a discard. */
int do_memory(void *arg)
{
	(void)arg;
	for (int i = 0; i < 64; i++) {
		char *big = malloc(8 << 20);
		char *small = malloc(100);
		if (!big || !small)
			return 1;
		memset(big, i, 8 << 20);
		big = realloc(big, 16 << 20);
		if (!big)
			return 2;
		free(big);
		free(small);
	}
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || madvise(p, 1 << 20, MADV_DONTNEED) ||
	    munmap(p, 1 << 20))
		return 3;
	return 0;
}

int do_fork(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	return pid > 0 ? 0 : 1;
}

int do_execve(void *arg)
{
	(void)arg;
	char *argv[] = {"true", NULL};
	execve("/bin/true", argv, argv + 1);
	return 1;
}

/* An fd of /dev/null, opened before the filter: ioctls on it reach the
 * filter, then fail with ENOTTY in the kernel. */
int confine_devnull = -1;

int open_devnull(void *arg)
{
	(void)arg;
	confine_devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	return confine_devnull < 0 ? 90 : 0;
}

int do_ioctl(void *arg)
{
	unsigned long req = *(unsigned long *)arg;
	if (ioctl(confine_devnull, req, 0) == 0 || errno != ENOTTY)
		return 1;
	return 0;
}

struct outcome run_ioctl(enum confine_thread kind, unsigned long req)
{
	static unsigned long r;
	r = req;
	return run_confined(kind, CONFINE_KILL, open_devnull, do_ioctl, &r);
}
