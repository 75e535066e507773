/* mvmm as a process (the binary beside this test binary, as make builds
 * it): what only main() decides. Issue 12: SIGTERM before the VM ran killed
 * mvmm by the signal (status 143) and left the socket file; a reader of its
 * stderr that went away killed it with SIGPIPE (141). The child starts as a
 * shell would start it: no signal blocked or ignored. Pre-boot mode needs
 * no KVM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char sock_path[108];
static pid_t child = -1;

static void setup(void)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/mvmm-proctest-%d.sock",
		 (int)getpid());
	unlink(sock_path);
}

static void teardown(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	unlink(sock_path);
}

TestSuite(process, .init = setup, .fini = teardown, .timeout = 20);

/* build/mvmm for build/unit_tests, build-asan/mvmm under ASan. */
static const char *mvmm_path(void)
{
	static char path[PATH_MAX];
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = 0;
	snprintf(path, sizeof(path), "%s/mvmm", dirname(self));
	cr_assert_eq(access(path, X_OK), 0, "%s is missing: make builds it", path);
	return path;
}

/* Pre-boot mode on sock_path; stdout to /dev/null, stderr to err_fd. */
static pid_t spawn_mvmm(int err_fd)
{
	char *argv[] = {(char *)mvmm_path(), "--api-sock", sock_path, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, defaults;
	pid_t pid;

	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &defaults);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	cr_assert_eq(posix_spawn(&pid, argv[0], &fa, &at, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return pid;
}

static bool wait_for_socket(void)
{
	for (int i = 0; i < 1000; i++) {
		if (access(sock_path, F_OK) == 0)
			return true;
		usleep(5000);
	}
	return false;
}

/* The child's wait status, or -1 if it is still running after timeout. */
static int wait_status(unsigned timeout_ms)
{
	int st;
	for (unsigned i = 0;; i++) {
		if (waitpid(child, &st, WNOHANG) == child) {
			child = -1;
			return st;
		}
		if (i >= timeout_ms / 5)
			return -1;
		usleep(5000);
	}
}

static const char *describe(int st, char *buf, size_t len)
{
	if (st < 0)
		snprintf(buf, len, "still running");
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
	return buf;
}

static void stops_cleanly_on(int sig)
{
	char why[64];
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	cr_assert_geq(null_fd, 0);
	child = spawn_mvmm(null_fd);
	close(null_fd);
	cr_assert(wait_for_socket(), "mvmm never listened on %s", sock_path);
	cr_assert_eq(kill(child, sig), 0);
	int st = wait_status(5000);
	cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "signal %d before boot: %s (the docs promise status 0)", sig,
		  describe(st, why, sizeof(why)));
	cr_assert_neq(access(sock_path, F_OK), 0, "the socket file was left");
}

Test(process, sigterm_before_boot_exits_0_and_removes_the_socket)
{
	stops_cleanly_on(SIGTERM);
}

Test(process, sigint_before_boot_exits_0_and_removes_the_socket)
{
	stops_cleanly_on(SIGINT);
}

Test(process, sighup_before_boot_exits_0_and_removes_the_socket)
{
	stops_cleanly_on(SIGHUP);
}

/* stderr's reader is gone before mvmm logs "waiting for configuration". */
Test(process, a_gone_stderr_reader_does_not_kill_mvmm)
{
	char why[64];
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	child = spawn_mvmm(p[1]);
	close(p[1]);
	cr_assert(wait_for_socket(), "mvmm never listened on %s", sock_path);
	usleep(100 * 1000); /* it logged by now */
	int st = wait_status(0);
	cr_assert_eq(st, -1, "mvmm died: %s", describe(st, why, sizeof(why)));
	cr_assert_eq(kill(child, SIGTERM), 0);
	st = wait_status(5000);
	cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s",
		  describe(st, why, sizeof(why)));
}
