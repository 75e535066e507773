/* Per-thread seccomp filters (vmm/confine/): each test forks a child that
 * installs one thread kind's filter and then makes one call. An allowed call
 * returns (the child exits 0, whatever the kernel answered); a forbidden one
 * kills the child by SIGSYS after the one-line report on stderr
 * (tests/unit/fakes/confine_fixture.c).
 *
 * This file: actions, names, NO_NEW_PRIVS, per-thread scope, the export;
 * confine_{vcpu,main,api}_test.c: each thread kind's list. */
#include "fakes/confine_fixture.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

TestSuite(confine);

Test(confine, parses_the_action_names)
{
	enum confine_action a = CONFINE_OFF;
	cr_assert_eq(confine_action_parse("kill", &a), 0);
	cr_assert_eq(a, CONFINE_KILL);
	cr_assert_eq(confine_action_parse("log", &a), 0);
	cr_assert_eq(a, CONFINE_LOG);
	cr_assert_eq(confine_action_parse("off", &a), 0);
	cr_assert_eq(a, CONFINE_OFF);
	cr_assert_eq(confine_action_parse("Kill", &a), -EINVAL);
	cr_assert_eq(confine_action_parse("", &a), -EINVAL);
	cr_assert_eq(confine_action_parse(NULL, &a), -EINVAL);
	cr_assert_eq(a, CONFINE_OFF, "a refused value changes nothing");
	cr_assert_str_eq(confine_action_name(CONFINE_LOG), "log");
	cr_assert_str_eq(confine_thread_name(CONFINE_VCPU), "vcpu");
	cr_assert_str_eq(confine_thread_name(CONFINE_MAIN), "main");
	cr_assert_str_eq(confine_thread_name(CONFINE_API), "api");
	cr_assert_str_eq(confine_thread_name(CONFINE_THREAD_KINDS), "?");
}

static int check_nnp_only(void *arg)
{
	(void)arg;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 1;
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0 ? 0 : 2;
}

Test(confine, off_sets_no_new_privs_and_no_filter)
{
	struct outcome o = run_confined(CONFINE_MAIN, CONFINE_OFF, NULL,
					check_nnp_only, NULL);
	expect_allowed(&o);
}

Test(confine, refuses_an_unknown_thread_kind)
{
	char err[128] = "";
	cr_assert_eq(confine_seccomp_install(CONFINE_THREAD_KINDS, CONFINE_KILL,
					     err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "seccomp"), "%s", err);
}

/* With log, the kernel logs a forbidden call and lets it through. */
Test(confine, log_lets_a_forbidden_syscall_through)
{
	struct outcome o = run_confined(CONFINE_API, CONFINE_LOG, NULL,
					do_socket, NULL);
	expect_allowed(&o);
}

static void *api_thread(void *arg)
{
	int *fds = arg;
	char err[256], c = 0;
	if (confine_seccomp_install(CONFINE_API, CONFINE_KILL, err, sizeof(err)))
		return (void *)1;
	if (recvfrom(fds[0], &c, 1, 0, NULL, NULL) != 1 || c != 'x')
		return (void *)2;
	return NULL;
}

/* The filter binds the thread that installed it, not its siblings. */
static int filter_one_thread(void *arg)
{
	(void)arg;
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
		return 1;
	pthread_t t;
	void *ret = (void *)1;
	if (pthread_create(&t, NULL, api_thread, fds))
		return 2;
	if (write(fds[1], "x", 1) != 1 || pthread_join(t, &ret) || ret)
		return 3;
	/* Forbidden to the API thread, allowed here. */
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 4;
}

Test(confine, a_filter_confines_only_its_thread)
{
	struct outcome o = run_confined(CONFINE_MAIN, CONFINE_OFF, NULL,
					filter_one_thread, NULL);
	expect_allowed(&o);
}

/* The pseudo-filter text, for docs/security.md. */
Test(confine, exports_each_filter)
{
	for (int k = 0; k < CONFINE_THREAD_KINDS; k++) {
		FILE *f = tmpfile();
		cr_assert(f);
		cr_assert_eq(confine_seccomp_export(k, CONFINE_KILL, fileno(f)), 0);
		cr_assert_gt(ftell(f) + lseek(fileno(f), 0, SEEK_END), 100);
		fclose(f);
	}
	cr_assert_eq(confine_seccomp_export(CONFINE_MAIN, CONFINE_OFF, 1), -EINVAL);
}
