#include "api/api_server.h"

#include <core/log.h>

#include <errno.h>
#include <microhttpd.h>
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

/* Per-connection request state, owned by the API thread. */
struct api_conn {
	char *body;
	size_t len;
	size_t dropped;
	bool too_big;
	bool answering; /* counted in the server's answering */
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

void api_respond_error(struct api_response *resp, unsigned status,
		       const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_respond_json(resp, status, json_pack("{ss}", "fault_message", msg));
}

/* ---- API thread ---- */

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

/* Hands req to the main loop and waits for its answer (IDLE -> QUEUED, then
 * ANSWERED -> IDLE; api_server.h draws the whole machine). */
static void dispatch(struct api_server *s, struct api_conn *c,
		     const struct api_request *req, struct api_response *out)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	c->answering = true;
	s->answering++;
	/* One polling thread means one request at a time; keep it so. */
	while (s->state != API_REQ_IDLE && s->phase != API_SERVER_STOPPING)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->phase != API_SERVER_STOPPING) {
		s->req = req;
		s->state = API_REQ_QUEUED;
		if (write(s->event_fd, &one, sizeof(one)) < 0)
			log_warn("api: eventfd: %s", strerror(errno));
		while (s->state != API_REQ_ANSWERED &&
		       s->phase != API_SERVER_STOPPING)
			pthread_cond_wait(&s->cond, &s->lock);
	}
	if (s->state == API_REQ_ANSWERED)
		*out = s->resp;
	else
		api_respond_error(out, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "mvmm is shutting down");
	s->resp = (struct api_response){0};
	s->req = NULL;
	s->state = API_REQ_IDLE;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
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

/* A request's first call, headers only: its state, or a 413 before the
 * body is read when the body announces a size over the cap. */
static enum MHD_Result conn_begin(struct MHD_Connection *conn, void **con_cls)
{
	struct api_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return MHD_NO;
	*con_cls = c;
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

/* The whole request is in: the handler's answer, or the transport's. */
static enum MHD_Result conn_answer(struct api_server *s, struct api_conn *c,
				   struct MHD_Connection *conn,
				   const char *url, const char *method)
{
	if (c->too_big)
		return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE,
				  "request body larger than 65536 bytes");
	if (c->body && strlen(c->body) != c->len)
		return send_error(conn, MHD_HTTP_BAD_REQUEST,
				  "request body contains a NUL byte");

	struct api_request req = {
		.method = method,
		.path = url,
		.body = c->body ? c->body : "",
		.body_len = c->len,
	};
	struct api_response resp = {0};
	dispatch(s, c, &req, &resp);
	enum MHD_Result ret = send_response(conn, &resp);
	free(resp.body);
	return ret;
}

/* MHD calls this once with the headers, once per piece of the body, and
 * once more when the body is complete. */
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
	return conn_answer(cls, c, conn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct api_conn *c = *con_cls;
	(void)conn;
	(void)toe;
	if (c && c->answering) {
		pthread_mutex_lock(&s->lock);
		s->answering--;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	if (c) {
		free(c->body);
		free(c);
		*con_cls = NULL;
	}
}

/* ---- main loop ---- */

/* The handler returned resp: HANDLING -> ANSWERED or DEFERRED, or EARLY ->
 * ANSWERED when it answered already. */
static void handler_returned(struct api_server *s, struct api_response *resp)
{
	pthread_mutex_lock(&s->lock);
	if (resp->status == API_STATUS_DEFERRED) {
		if (s->state == API_REQ_HANDLING)
			s->state = API_REQ_DEFERRED;
		else if (s->state == API_REQ_EARLY)
			s->state = API_REQ_ANSWERED; /* s->resp holds it */
	} else if (s->state == API_REQ_HANDLING || s->state == API_REQ_EARLY) {
		free(s->resp.body); /* an early answer the handler overrode */
		s->resp = *resp;
		resp->body = NULL;
		s->state = API_REQ_ANSWERED;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	free(resp->body);
}

static void on_event(void *opaque, uint32_t events)
{
	struct api_server *s = opaque;
	const struct api_request *req = NULL;
	uint64_t v;
	(void)events;

	if (read(s->event_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("api: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	if (s->state == API_REQ_QUEUED) {
		s->state = API_REQ_HANDLING;
		req = s->req;
	}
	pthread_mutex_unlock(&s->lock);
	if (!req)
		return;

	/* The API thread waits until answered (stop runs on this thread, not
	 * during the handler), so req stays valid. */
	struct api_response resp = {0};
	s->handler(s->ctx, req, &resp);
	handler_returned(s, &resp);
}

void api_server_answer(struct api_server *s, struct api_response *resp)
{
	pthread_mutex_lock(&s->lock);
	switch (s->state) {
	case API_REQ_HANDLING:
	case API_REQ_EARLY:
		/* From inside the handler: sent once it returns DEFERRED. */
		free(s->resp.body);
		s->resp = *resp;
		s->state = API_REQ_EARLY;
		break;
	case API_REQ_DEFERRED:
		s->resp = *resp;
		s->state = API_REQ_ANSWERED;
		pthread_cond_broadcast(&s->cond);
		break;
	default:
		/* Nobody waits any more (stopping). */
		free(resp->body);
		break;
	}
	resp->body = NULL;
	pthread_mutex_unlock(&s->lock);
}

/* ---- setup ---- */

/* Removes a socket file nobody listens on; refuses a live one. */
static int clear_stale_socket(const struct sockaddr_un *addr)
{
	struct stat st;
	if (lstat(addr->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("api: %s exists and is not a socket", addr->sun_path);
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	int e = errno;
	close(fd);
	if (r == 0) {
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
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 16) < 0) {
		r = -errno;
		log_error("api: %s: %s", path, strerror(-r));
		close(fd);
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
	free(s->sock_path);
	free(s->resp.body);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
	s->event_fd = -1;
}

/* MHD's thread calls this as each connection starts; the first one runs
 * the thread's own set-up, before any byte a client sent is read. */
static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct api_server *s = cls;
	(void)conn;
	(void)socket_context;
	if (code != MHD_CONNECTION_NOTIFY_STARTED || s->thread_ready)
		return;
	s->thread_ready = true;
	if (s->thread_init)
		s->thread_init(s->ctx);
}

/* Starts the API thread on the listening socket fd. */
static struct MHD_Daemon *start_daemon(struct api_server *s, int fd)
{
	/* The API thread inherits this mask: asynchronous signals stay with
	 * the main loop's signalfd and the vCPU threads. Faults are left
	 * deliverable so a crash is still reported. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	struct MHD_Daemon *mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC, 0,
		NULL, NULL, on_request, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
		MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return mhd;
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
	s->event_fd = -1;
	s->handler = handler;
	s->ctx = ctx;
	s->thread_init = thread_init;
	if (!sock_path || !handler)
		return -EINVAL;
	server_sync_init(s);
	s->sock_path = strdup(sock_path);
	s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!s->sock_path || s->event_fd < 0) {
		r = s->sock_path ? -errno : -ENOMEM;
		goto err;
	}
	if (loop && (r = api_server_attach(s, loop)))
		goto err;
	int fd = listen_unix(sock_path);
	if (fd < 0) {
		r = fd;
		goto err;
	}
	s->mhd = start_daemon(s, fd);
	if (!s->mhd) {
		log_error("api: cannot start the HTTP server on %s", sock_path);
		close(fd);
		unlink(sock_path);
		r = -EIO;
		goto err;
	}
	s->phase = API_SERVER_RUNNING;
	return 0;
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
	pthread_cond_broadcast(&s->cond);
	/* MHD drops queued responses when it stops: let a client that was
	 * waiting get its 503 first, within reason. */
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += API_STOP_GRACE_S;
	while (s->answering &&
	       pthread_cond_timedwait(&s->cond, &s->lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->lock);
	/* Joins the API thread and closes the listening socket. */
	MHD_stop_daemon(s->mhd);
	unlink(s->sock_path);
	server_release(s);
}
