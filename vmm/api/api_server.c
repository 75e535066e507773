#include "api/api_server.h"

#include <core/clock.h>
#include <core/log.h>

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A body over the cap is read and dropped up to this much before the
 * connection is closed instead of answered. */
#define API_DISCARD_LIMIT (16u << 20)
/* The 413 message spells the cap out. */
_Static_assert(API_MAX_BODY == 65536, "update the 413 message");
/* How long stop waits for answers already queued to be sent. */
#define API_STOP_GRACE_S 1
/* Out of file descriptors: how long accepting pauses. */
#define API_ACCEPT_PAUSE_NS (100ULL * 1000000ULL)
/* An idle connection: how long MHD keeps it between requests at most. */
#define API_IDLE_TIMEOUT_S 60

/* A complete request handed to the main loop; lives in its api_conn. */
struct api_item {
	struct api_item *next;
	struct MHD_Connection *conn;
	struct api_request req;
	struct api_response resp;
	bool answered; /* resp holds the answer (ready, or early) */
};

/* Per-connection request state, owned by the API thread. */
struct api_conn {
	char *body;
	size_t len;
	size_t dropped;
	bool too_big;
	bool queued; /* handed to the main loop: counted in answering */
	char *method, *path;
	struct api_item item;
};

/* ---- response builders ---- */

void api_respond_json(struct api_response *resp, unsigned status, json_t *body)
{
	free(resp->body);
	resp->status = status;
	resp->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (body && !resp->body)
		resp->status = 500;
	json_decref(body);
}

void api_respond_no_content(struct api_response *resp)
{
	free(resp->body);
	resp->status = MHD_HTTP_NO_CONTENT;
	resp->body = NULL;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* jansson refuses a string that is not UTF-8, and the answer would lose
 * its body: each invalid byte becomes '?', and a sequence the formatter
 * cut at the end is dropped. In place. */
static void utf8_clean(char *msg)
{
	unsigned char *p = (unsigned char *)msg;
	while (*p) {
		size_t n = utf8_seq_len(p);
		if (n) {
			p += n;
			continue;
		}
		size_t rest = strlen((char *)p);
		bool cut = rest < 4 && p[0] >= 0xc2 && p[0] <= 0xf4;
		for (size_t i = 1; cut && i < rest; i++)
			cut = p[i] >= 0x80 && p[i] <= 0xbf;
		if (cut) {
			*p = 0;
			return;
		}
		*p++ = '?';
	}
}

void api_respond_error(struct api_response *resp, unsigned status,
		       const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_clean(msg);
	api_respond_json(resp, status, json_pack("{ss}", "fault_message", msg));
}

/* ---- between the threads (lock held) ---- */

static void list_push(struct api_item **head, struct api_item *it)
{
	it->next = NULL;
	while (*head)
		head = &(*head)->next;
	*head = it;
}

static void wake(int fd)
{
	uint64_t one = 1;
	/* A full eventfd counter still reads as readable: EAGAIN is fine. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "api: eventfd: %s", strerror(errno));
}

/* it is answered: the API thread resumes its connection and sends it. */
static void item_ready(struct api_server *s, struct api_item *it)
{
	it->answered = true;
	list_push(&s->ready, it);
	wake(s->wake_fd);
}

static void item_answer_503(struct api_server *s, struct api_item *it)
{
	struct api_response r = {0};
	free(it->resp.body);
	api_respond_error(&r, MHD_HTTP_SERVICE_UNAVAILABLE,
			  "mvmm is shutting down");
	it->resp = r;
	item_ready(s, it);
}

/* ---- API thread: HTTP ---- */

static enum MHD_Result send_response(struct MHD_Connection *conn,
				     const struct api_response *r)
{
	unsigned status = r->status ? r->status : MHD_HTTP_INTERNAL_SERVER_ERROR;
	const char *body = r->body ? r->body : "";
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (r->body)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/json");
	if (r->deprecated)
		MHD_add_response_header(resp, "Deprecation", "true");
	if (r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status,
				  const char *msg)
{
	struct api_response r = {0};
	api_respond_error(&r, status, "%s", msg);
	enum MHD_Result ret = send_response(conn, &r);
	free(r.body);
	return ret;
}

static struct api_conn_slot *slot_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static uint64_t deadline_from_now(struct api_server *s)
{
	return clock_now_ns() + (uint64_t)atomic_load(&s->deadline_ms) * 1000000ULL;
}

static bool body_too_big(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!cl)
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	return errno || end == cl || n > API_MAX_BODY;
}

/* A request's first call, headers only: its state, or an answer before the
 * body is read (a bad path, a body announced over the cap). */
static enum MHD_Result conn_begin(struct MHD_Connection *conn, void **con_cls)
{
	struct api_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return MHD_NO;
	*con_cls = c;
	struct api_conn_slot *slot = slot_of(conn);
	if (slot && slot->bad_path) {
		/* Compared as C strings, "/balloon%00/x" would be "/balloon". */
		slot->bad_path = false;
		c->too_big = true; /* nothing of the body is kept */
		return send_error(conn, MHD_HTTP_BAD_REQUEST,
				  "the request path holds a NUL or a byte outside printable ASCII");
	}
	if (!body_too_big(conn))
		return MHD_YES;
	c->too_big = true;
	return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
			  "request body larger than 65536 bytes");
}

/* A piece of the body: kept up to API_MAX_BODY, past it counted and
 * dropped until the connection is closed. */
static enum MHD_Result conn_take(struct api_conn *c, const char *data,
				 size_t n)
{
	if (!c->too_big && c->len + n > API_MAX_BODY) {
		c->too_big = true;
		free(c->body);
		c->body = NULL;
	}
	if (c->too_big) {
		c->dropped += n;
		return c->dropped > API_DISCARD_LIMIT ? MHD_NO : MHD_YES;
	}
	char *nb = realloc(c->body, c->len + n + 1);
	if (!nb)
		return MHD_NO;
	memcpy(nb + c->len, data, n);
	c->body = nb;
	c->len += n;
	c->body[c->len] = 0;
	return MHD_YES;
}

/* The whole request is in: queued for the main loop, its connection
 * suspended until the answer is ready. */
static enum MHD_Result conn_queue(struct api_server *s, struct api_conn *c,
				  struct MHD_Connection *conn,
				  const char *url, const char *method)
{
	if (c->too_big)
		return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
				  "request body larger than 65536 bytes");
	if (c->body && strlen(c->body) != c->len)
		return send_error(conn, MHD_HTTP_BAD_REQUEST,
				  "request body contains a NUL byte");
	c->method = strdup(method);
	c->path = strdup(url);
	if (!c->method || !c->path)
		return MHD_NO;
	c->item = (struct api_item){
		.conn = conn,
		.req = {
			.method = c->method,
			.path = c->path,
			.body = c->body ? c->body : "",
			.body_len = c->len,
		},
	};
	pthread_mutex_lock(&s->lock);
	if (s->phase != API_SERVER_RUNNING) {
		pthread_mutex_unlock(&s->lock);
		return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "mvmm is shutting down");
	}
	c->queued = true;
	s->answering++;
	list_push(&s->queue, &c->item);
	wake(s->event_fd);
	pthread_mutex_unlock(&s->lock);
	/* The client sent everything: no deadline while the VMM works. */
	struct api_conn_slot *slot = slot_of(conn);
	if (slot)
		slot->deadline_ns = 0;
	MHD_suspend_connection(conn);
	return MHD_YES;
}

/* MHD calls this once with the headers, once per piece of the body, once
 * more when the body is complete, and again after a resume. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api_conn *c = *con_cls;
	(void)version;

	if (!c)
		return conn_begin(conn, con_cls);
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		return conn_take(c, upload_data, n);
	}
	if (c->item.answered) {
		/* Resumed: the main loop's answer (read under no lock: the
		 * main loop let go of the item when it was made ready). */
		enum MHD_Result r = send_response(conn, &c->item.resp);
		free(c->item.resp.body);
		c->item.resp.body = NULL;
		return r;
	}
	return conn_queue(cls, c, conn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct api_conn *c = *con_cls;
	(void)toe;
	/* The next request on this connection has its own deadline, and
	 * its own path check. */
	struct api_conn_slot *slot = slot_of(conn);
	if (slot) {
		slot->deadline_ns = deadline_from_now(s);
		slot->bad_path = false;
	}
	if (!c)
		return;
	if (c->queued) {
		pthread_mutex_lock(&s->lock);
		s->answering--;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	free(c->item.resp.body);
	free(c->method);
	free(c->path);
	free(c->body);
	free(c);
	*con_cls = NULL;
}

/* Every accepted connection has a slot: its deadline and path check. */
static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct api_server *s = cls;
	struct api_conn_slot *slot = *socket_context;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		/* Before MHD closes the fd: the watchdog never sees it reused. */
		if (slot) {
			memset(slot, 0, sizeof(*slot));
			s->nr_conns--;
		}
		*socket_context = NULL;
		return;
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	for (unsigned i = 0; i < API_MAX_CONNECTIONS && ci; i++) {
		slot = &s->conns[i];
		if (slot->used)
			continue;
		*slot = (struct api_conn_slot){
			.used = true,
			.fd = ci->connect_fd,
			.deadline_ns = deadline_from_now(s),
		};
		s->nr_conns++;
		*socket_context = slot;
		return;
	}
	*socket_context = NULL; /* cannot happen: accept counts first */
}

int api_path_check(const char *path, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)path[i];
		if (ch < 0x20 || ch >= 0x7f)
			return -EINVAL;
	}
	return 0;
}

/* MHD's decoding, then the check a C-string comparison of paths needs. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *uri)
{
	(void)cls;
	size_t n = MHD_http_unescape(uri);
	struct api_conn_slot *slot = slot_of(conn);
	if (slot && api_path_check(uri, n))
		slot->bad_path = true;
	return n;
}

/* ---- API thread: connections ---- */

/* Over the limit: answered at once instead of left in the backlog. */
static void refuse_busy(int fd)
{
	char msg[256], buf[4096];
	const char *body = "{\"fault_message\":\"too many connections: mvmm "
			   "serves 16 at once, try again\"}";
	_Static_assert(API_MAX_CONNECTIONS == 16, "update the 503 message");
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 503 Service Unavailable\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strlen(body), body);
	/* What the client sent already: read (a little), so closing does
	 * not reset the connection before it reads the answer. */
	for (int i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	     i++)
		;
	if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
		log_ratelimited(LOG_WARN, "api: 503 to an over-limit client: %s",
				strerror(errno));
	close(fd);
}

/* A burst at most per turn, so a flood of connections cannot starve the
 * ones being served. */
#define API_ACCEPTS_PER_TURN 32

static void accept_all(struct api_server *s)
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
			refuse_busy(fd);
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
static int watchdog(struct api_server *s)
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

/* The shorter of two poll timeouts (-1: none). */
static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

/* Resumes the connections whose answers are ready; true when stopping. */
static bool resume_ready(struct api_server *s)
{
	uint64_t v;
	if (read(s->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "api: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	struct api_item *it = s->ready;
	s->ready = NULL;
	bool stop = s->stop_thread;
	pthread_mutex_unlock(&s->lock);
	while (it) {
		struct api_item *next = it->next;
		MHD_resume_connection(it->conn);
		it = next;
	}
	return stop;
}

static void *api_thread(void *opaque)
{
	struct api_server *s = opaque;
	/* Before any byte a client sent is read (the thread's seccomp). */
	if (s->thread_init)
		s->thread_init(s->ctx);
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	int mhd_fd = di ? di->epoll_fd : -1;

	while (!resume_ready(s)) {
		MHD_run(s->mhd);
		int timeout = watchdog(s);
		MHD_UNSIGNED_LONG_LONG mhd_ms;
		if (MHD_get_timeout(s->mhd, &mhd_ms) == MHD_YES)
			timeout = min_timeout(timeout,
					      mhd_ms > INT32_MAX ? INT32_MAX
								 : (int)mhd_ms);
		uint64_t now = clock_now_ns();
		bool paused = s->accept_paused_until_ns > now;
		if (paused)
			timeout = min_timeout(
				timeout,
				(int)((s->accept_paused_until_ns - now) / 1000000) + 1);
		struct pollfd fds[3] = {
			{.fd = s->wake_fd, .events = POLLIN},
			{.fd = mhd_fd, .events = POLLIN},
			{.fd = paused ? -1 : s->listen_fd, .events = POLLIN},
		};
		if (poll(fds, 3, timeout) < 0 && errno != EINTR) {
			log_error("api: poll: %s", strerror(errno));
			break;
		}
		if (fds[2].revents & POLLIN)
			accept_all(s);
	}
	return NULL;
}

/* ---- main loop ---- */

/* The first queued request the main loop may run now: any, or while one
 * is deferred only a GET (reads do not disturb the work it waits for). */
static struct api_item *take_runnable(struct api_server *s)
{
	for (struct api_item **p = &s->queue; *p; p = &(*p)->next) {
		struct api_item *it = *p;
		if (s->deferred && strcmp(it->req.method, "GET"))
			continue;
		*p = it->next;
		it->next = NULL;
		return it;
	}
	return NULL;
}

/* The handler of it returned resp. */
static void handler_returned(struct api_server *s, struct api_item *it,
			     struct api_response *resp)
{
	pthread_mutex_lock(&s->lock);
	s->handling = NULL;
	if (resp->status != API_STATUS_DEFERRED) {
		free(it->resp.body); /* an early answer the handler overrode */
		it->resp = *resp;
		resp->body = NULL;
		item_ready(s, it);
	} else if (it->answered) {
		item_ready(s, it); /* answered from inside the handler */
	} else if (!s->deferred && s->phase == API_SERVER_RUNNING) {
		s->deferred = it;
	} else {
		/* Only a GET runs beside a deferred one, and GETs answer. */
		api_respond_error(&it->resp, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "a second request deferred its answer");
		item_ready(s, it);
	}
	pthread_mutex_unlock(&s->lock);
	free(resp->body);
}

static void on_event(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	uint64_t v;
	(void)events;

	if (read(s->event_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("api: eventfd: %s", strerror(errno));
	for (;;) {
		pthread_mutex_lock(&s->lock);
		struct api_item *it = s->phase == API_SERVER_RUNNING
					      ? take_runnable(s)
					      : NULL;
		s->handling = it;
		pthread_mutex_unlock(&s->lock);
		if (!it)
			return;
		/* The API thread keeps the connection suspended until the item
		 * is ready: req stays valid. */
		struct api_response resp = {0};
		s->handler(s->ctx, &it->req, &resp);
		handler_returned(s, it, &resp);
	}
}

void api_server_answer(struct api_server *s, struct api_response *resp)
{
	pthread_mutex_lock(&s->lock);
	struct api_item *it = s->deferred;
	if (it) {
		s->deferred = NULL;
		free(it->resp.body);
		it->resp = *resp;
		item_ready(s, it);
		/* Requests held behind it may run now. */
		wake(s->event_fd);
	} else if (s->handling) {
		/* From inside the handler: sent once it returns DEFERRED. */
		it = s->handling;
		free(it->resp.body);
		it->resp = *resp;
		it->answered = true;
	} else {
		free(resp->body); /* nobody waits any more (stopping) */
	}
	resp->body = NULL;
	pthread_mutex_unlock(&s->lock);
}

/* ---- setup ---- */

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

static int listen_unix(const char *path)
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

/* The lock and the condition stop's deadline waits on (monotonic). */
static void server_sync_init(struct api_server *s)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
}

/* Undoes what start did, in reverse; leaves s zeroed and OFF. */
static void server_release(struct api_server *s)
{
	if (s->loop)
		event_loop_del(s->loop, s->event_fd);
	if (s->event_fd >= 0)
		close(s->event_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	free(s->sock_path);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
	s->event_fd = s->wake_fd = s->listen_fd = -1;
}

static struct MHD_Daemon *start_daemon(struct api_server *s)
{
	/* External polling from our own thread: it accepts (and refuses
	 * over-limit clients itself), enforces deadlines and resumes the
	 * connections the main loop answered. */
	return MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET |
			MHD_ALLOW_SUSPEND_RESUME,
		0, NULL, NULL, on_request, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)(API_MAX_CONNECTIONS + 1),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_TIMEOUT_S,
		MHD_OPTION_END);
}

/* The API thread with every asynchronous signal blocked: they stay with
 * the main loop's signalfd and the vCPU threads. Faults stay deliverable
 * so a crash is still reported. */
static int start_thread(struct api_server *s)
{
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&s->thread, NULL, api_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	pthread_setname_np(s->thread, "mvmm-api");
	s->thread_started = true;
	return 0;
}

int api_server_start(struct api_server *s, const char *sock_path,
		     struct event_loop *loop, api_handler_fn handler, void *ctx)
{
	return api_server_start_hooked(s, sock_path, loop, handler, ctx, NULL);
}

int api_server_start_hooked(struct api_server *s, const char *sock_path,
			    struct event_loop *loop, api_handler_fn handler,
			    void *ctx, void (*thread_init)(void *ctx))
{
	int r;

	memset(s, 0, sizeof(*s));
	s->event_fd = s->wake_fd = s->listen_fd = -1;
	s->handler = handler;
	s->ctx = ctx;
	s->thread_init = thread_init;
	atomic_init(&s->deadline_ms, API_REQUEST_DEADLINE_S * 1000u);
	if (!sock_path || !handler)
		return -EINVAL;
	server_sync_init(s);
	s->sock_path = strdup(sock_path);
	s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!s->sock_path || s->event_fd < 0 || s->wake_fd < 0) {
		r = s->sock_path ? -errno : -ENOMEM;
		goto err;
	}
	if (loop && (r = api_server_attach(s, loop)))
		goto err;
	if ((r = listen_unix(sock_path)) < 0)
		goto err;
	s->listen_fd = r;
	s->mhd = start_daemon(s);
	if (!s->mhd) {
		log_error("api: cannot start the HTTP server on %s", sock_path);
		r = -EIO;
		goto err_unlink;
	}
	if ((r = start_thread(s))) {
		log_error("api: cannot start its thread: %s", strerror(-r));
		MHD_stop_daemon(s->mhd);
		goto err_unlink;
	}
	s->phase = API_SERVER_RUNNING;
	return 0;
err_unlink:
	unlink(sock_path);
err:
	server_release(s);
	return r;
}

int api_server_attach(struct api_server *s, struct event_loop *loop)
{
	if (s->loop == loop)
		return 0;
	if (s->loop)
		event_loop_del(s->loop, s->event_fd);
	s->loop = NULL;
	int r = event_loop_add(loop, s->event_fd, 0, on_event, s);
	if (r)
		return r;
	s->loop = loop;
	return 0;
}

void api_server_stop(struct api_server *s)
{
	if (s->phase != API_SERVER_RUNNING)
		return;
	pthread_mutex_lock(&s->lock);
	s->phase = API_SERVER_STOPPING;
	/* Stop runs on the main loop's thread: no handler is running. */
	while (s->queue) {
		struct api_item *it = s->queue;
		s->queue = it->next;
		item_answer_503(s, it);
	}
	if (s->deferred)
		item_answer_503(s, s->deferred);
	s->deferred = NULL;
	/* MHD drops queued responses when it stops: let clients that were
	 * waiting get their 503 first, within reason. */
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += API_STOP_GRACE_S;
	while (s->answering &&
	       pthread_cond_timedwait(&s->cond, &s->lock, &deadline) != ETIMEDOUT)
		;
	s->stop_thread = true;
	wake(s->wake_fd);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	/* MHD must not stop with a connection suspended. */
	for (struct api_item *it = s->ready; it; it = it->next)
		MHD_resume_connection(it->conn);
	s->ready = NULL;
	MHD_stop_daemon(s->mhd);
	unlink(s->sock_path);
	server_release(s);
}
