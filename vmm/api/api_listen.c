/* The API's listening socket and who gets in: a stale socket file is
 * replaced, a live one refused; over the connection limit a client gets an
 * immediate 503; a request not sent in time is cut. */
#include "api/api_server_priv.h"

#include <core/clock.h>
#include <core/log.h>

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Removes a socket file nobody listens on; refuses a live one. Never
 * waits: a server too busy to take the connection counts as live. */
static int clear_stale_socket(const struct sockaddr_un *addr)
{
	struct stat st;
	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("api: %s exists and is not a socket", addr->sun_path);
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	int e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN || e == EINPROGRESS) {
		log_error("api: %s is in use by a running server",
			  addr->sun_path);
		return -EADDRINUSE;
	}
	if (e != ECONNREFUSED) {
		log_error("api: %s: %s", addr->sun_path, strerror(e));
		return -e;
	}
	if (unlink(addr->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int api_listen_unix(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("api: socket path longer than %zu bytes: %s",
			  sizeof(addr.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	int r = clear_stale_socket(&addr);
	if (r)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* The file takes the umask at bind; 0600 before listen, so nobody
	 * connects while it is wider (connect needs write permission). */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		log_error("api: %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	if (chmod(path, 0600) < 0 || listen(fd, API_MAX_CONNECTIONS) < 0) {
		r = -errno;
		log_error("api: %s: %s", path, strerror(-r));
		close(fd);
		unlink(path);
		return r;
	}
	return fd;
}

/* How long a refused client's socket stays open for it to read the 503. */
#define API_REFUSED_LINGER_NS (1000ULL * 1000000ULL)

static void refused_close(struct api_server *s, unsigned i)
{
	close(s->refused[i].fd);
	s->nr_refused--;
	memmove(&s->refused[i], &s->refused[i + 1],
		(s->nr_refused - i) * sizeof(s->refused[0]));
}

/* Reads and drops what the client sent: 1 while it may send more, 0 once
 * it shut its side, -1 on an error (it is gone). */
static int refused_drain(int fd)
{
	char buf[4096];
	for (int i = 0; i < 16; i++) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0)
			return 0;
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ||
					       errno == EINTR
				       ? 1
				       : -1;
	}
	return 1;
}

int api_refused_expire(struct api_server *s, bool force)
{
	uint64_t now = clock_now_ns(), next = 0;
	for (unsigned i = 0; i < s->nr_refused;) {
		if (force || s->refused[i].close_ns <= now ||
		    refused_drain(s->refused[i].fd) <= 0) {
			refused_close(s, i);
			continue;
		}
		if (!next || s->refused[i].close_ns < next)
			next = s->refused[i].close_ns;
		i++;
	}
	return next ? (int)((next - now) / 1000000) + 1 : -1;
}

/* Over the limit: answered at once instead of left in the backlog. The
 * socket stays open (write side shut) until the client closes or a second
 * passes, so a client whose request comes after the answer can still send
 * it and read the 503. At most API_MAX_CONNECTIONS wait so: the oldest is
 * closed to make room. */
static void refuse_busy(struct api_server *s, int fd)
{
	char msg[256];
	const char *body = "{\"fault_message\":\"too many connections: mvmm "
			   "serves 16 at once, try again\"}";
	_Static_assert(API_MAX_CONNECTIONS == 16, "update the 503 message");
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 503 Service Unavailable\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strlen(body), body);
	/* What the client sent already is dropped, so closing later does
	 * not reset the connection before it reads the answer. */
	int open = refused_drain(fd);
	if (open >= 0 &&
	    send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
		log_ratelimited(LOG_WARN, "api: 503 to an over-limit client: %s",
				strerror(errno));
		open = -1;
	}
	if (open <= 0) { /* gone, or it sent all it will: nothing to wait for */
		close(fd);
		return;
	}
	shutdown(fd, SHUT_WR);
	if (s->nr_refused == API_MAX_CONNECTIONS)
		refused_close(s, 0);
	s->refused[s->nr_refused].fd = fd;
	s->refused[s->nr_refused].close_ns = clock_now_ns() + API_REFUSED_LINGER_NS;
	s->nr_refused++;
}

/* A burst at most per turn, so a flood of connections cannot starve the
 * ones being served. */
#define API_ACCEPTS_PER_TURN 32

void api_accept_all(struct api_server *s)
{
	for (unsigned turn = 0; turn < API_ACCEPTS_PER_TURN; turn++) {
		struct sockaddr_un addr;
		socklen_t len = sizeof(addr);
		int fd = accept4(s->listen_fd, (struct sockaddr *)&addr, &len,
				 SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_ratelimited(LOG_WARN, "api: accept: %s",
						strerror(errno));
				s->accept_paused_until_ns =
					clock_now_ns() + API_ACCEPT_PAUSE_NS;
			}
			return;
		}
		if (s->nr_conns >= API_MAX_CONNECTIONS) {
			log_ratelimited(LOG_WARN,
					"api: %u connections open: one more refused",
					s->nr_conns);
			refuse_busy(s, fd);
			continue;
		}
		/* MHD closes fd itself when it fails. */
		if (MHD_add_connection(s->mhd, fd, (struct sockaddr *)&addr,
				       len) != MHD_YES)
			log_ratelimited(LOG_WARN, "api: connection dropped: %s",
					strerror(errno));
	}
}

/* Cuts connections whose request did not arrive in time; the next wake-up
 * (ms from now) or -1. */
int api_watchdog(struct api_server *s)
{
	uint64_t now = clock_now_ns(), next = 0;
	for (unsigned i = 0; i < API_MAX_CONNECTIONS; i++) {
		struct api_conn_slot *slot = &s->conns[i];
		if (!slot->used || !slot->deadline_ns)
			continue;
		if (slot->deadline_ns <= now) {
			/* MHD sees the end and closes it (and its slot). */
			log_ratelimited(LOG_WARN,
					"api: a client did not send its request within %u ms: closed",
					atomic_load(&s->deadline_ms));
			shutdown(slot->fd, SHUT_RDWR);
			slot->deadline_ns = 0;
			continue;
		}
		if (!next || slot->deadline_ns < next)
			next = slot->deadline_ns;
	}
	return next ? (int)((next - now) / 1000000ULL) + 1 : -1;
}
