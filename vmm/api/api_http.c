/* The API thread's HTTP side: libmicrohttpd's callbacks that read a request,
 * check its path and size, queue it for the main loop with its connection
 * suspended, and send the answer once the connection is resumed. */
#include "api/api_server_priv.h"

#include <core/clock.h>

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The 413 message spells the cap out. */
_Static_assert(API_MAX_BODY == 65536, "update the 413 message");

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
	api_list_push(&s->queue, &c->item);
	api_wake(s->event_fd);
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

struct MHD_Daemon *api_http_start(struct api_server *s)
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
