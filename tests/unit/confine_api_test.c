/* The API thread's seccomp filter: it serves connections with every signal
 * blocked, and opens nothing and makes no ioctl. */
#include "fakes/confine_fixture.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(confine_api);

struct api_fds {
	int listen_fd, client_fd, ep;
	char dir[64];
};

static struct api_fds api;

/* A listening socket with a client already connected, as MHD's thread
 * finds them; connect() itself is the client's business. */
static int api_setup(void *arg)
{
	(void)arg;
	snprintf(api.dir, sizeof(api.dir), "/tmp/mvmm-confine-XXXXXX");
	if (!mkdtemp(api.dir))
		return 97;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/api.sock", api.dir);
	api.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	api.client_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(api.listen_fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(api.listen_fd, 4) ||
	    connect(api.client_fd, (struct sockaddr *)&a, sizeof(a)))
		return 98;
	unlink(a.sun_path);
	rmdir(api.dir);
	api.ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN};
	return epoll_ctl(api.ep, EPOLL_CTL_ADD, api.listen_fd, &ev) ? 99 : 0;
}

static int api_serve(void *arg)
{
	(void)arg;
	struct epoll_event ev;
	if (epoll_wait(api.ep, &ev, 1, 1000) != 1)
		return 1;
	int c = accept4(api.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return 2;
	struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT};
	if (epoll_ctl(api.ep, EPOLL_CTL_ADD, c, &cev))
		return 3;
	if (send(api.client_fd, "GET / HTTP/1.1\r\n\r\n", 18, 0) != 18)
		return 4;
	char buf[64];
	if (recv(c, buf, sizeof(buf), 0) != 18)
		return 5;
	struct iovec iov[2] = {{"HTTP/1.1 204 \r\n", 15}, {"\r\n", 2}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	if (sendmsg(c, &m, MSG_NOSIGNAL) != 17 ||
	    send(c, "", 0, MSG_NOSIGNAL) != 0)
		return 6;
	if (epoll_ctl(api.ep, EPOLL_CTL_DEL, c, NULL) || shutdown(c, SHUT_RDWR) ||
	    close(c))
		return 7;
	/* What an error body costs: jansson, malloc. */
	return do_memory(NULL) ? 8 : 0;
}

Test(confine_api, serves_a_connection)
{
	struct outcome o = run_confined(CONFINE_API, CONFINE_KILL, api_setup,
					api_serve, NULL);
	expect_allowed(&o);
}

static int open_devnull_ro(void *arg)
{
	(void)arg;
	open("/dev/null", O_RDONLY);
	return 0;
}

Test(confine_api, opens_nothing_and_makes_no_ioctl)
{
	struct outcome o = run_kill(CONFINE_API, open_devnull_ro, NULL);
	expect_killed(&o, "api", "openat");
	o = run_ioctl(CONFINE_API, FIONREAD);
	expect_killed(&o, "api", "ioctl");
	o = run_kill(CONFINE_API, do_socket, NULL);
	expect_killed(&o, "api", "socket");
}

/* MHD's thread starts with every asynchronous signal blocked, SIGSYS too:
 * the report must still come. */
static int block_all(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	return pthread_sigmask(SIG_BLOCK, &all, NULL) ? 90 : 0;
}

Test(confine_api, reports_with_every_signal_blocked)
{
	struct outcome o = run_confined(CONFINE_API, CONFINE_KILL, block_all,
					do_socket, NULL);
	expect_killed(&o, "api", "socket");
}
