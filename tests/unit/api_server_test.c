/* The API server: libmicrohttpd on a Unix socket, each request handed to
 * an event loop and answered from there. */
#include "api/api_routes.h"
#include "api/api_server.h"
#include "fakes/openapi_check.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct vm_config cfg;
static struct api_ctx ctx;

static void setup(void)
{
	config_defaults(&cfg);
	ctx = (struct api_ctx){.cfg = &cfg, .vmm_version = "9.9.9"};
}

static void teardown(void) { config_free(&cfg); }

TestSuite(api_server, .init = setup, .fini = teardown);

static char sock_path[108];

static void make_sock_path(void)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/mvmm-apitest-%d.sock",
		 (int)getpid());
	unlink(sock_path);
}

struct http_reply {
	int status;
	char head[1024]; /* status line and headers */
	char body[1024];
};

/* One request with a raw AF_UNIX socket; status -1 when nothing came. */
static void http(const char *method, const char *path, const char *body,
		 size_t body_len, struct http_reply *out)
{
	out->status = -1;
	out->head[0] = out->body[0] = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	strcpy(a.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 method, path, body_len);
	if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n)
		goto out;
	for (size_t off = 0; off < body_len;) {
		/* The server may answer early and close: no SIGPIPE. */
		ssize_t w = send(fd, body + off, body_len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	static char buf[8192];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(buf) - 1 &&
	       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	if (sscanf(buf, "HTTP/1.1 %d", &out->status) != 1)
		out->status = -1;
	const char *b = strstr(buf, "\r\n\r\n");
	if (b) {
		snprintf(out->body, sizeof(out->body), "%s", b + 4);
		snprintf(out->head, sizeof(out->head), "%.*s", (int)(b - buf), buf);
	}
out:
	close(fd);
}

static void expect_reply_documented(const char *method, const char *path,
				    const char *req_body,
				    const struct http_reply *r)
{
	char err[768];
	json_t *doc = openapi_load(err, sizeof(err));
	cr_assert(doc, "%s", err);
	int e = openapi_check_exchange(doc, method, path, req_body,
				       (unsigned)r->status, r->body, err,
				       sizeof(err));
	json_decref(doc);
	cr_assert_eq(e, 0, "docs/openapi.json: %s", err);
}

/* The loop the API server of serve_until_stopped runs on; its client
 * thread ends the run with event_loop_stop(&serve_loop). */
static struct event_loop serve_loop;

/* Serves the API (api_routes_handle) on this thread until client, run on
 * a thread of its own with arg, stops serve_loop. deadline_ms 0 keeps the
 * server's request deadline. */
static void serve_until_stopped(void *(*client)(void *), void *arg,
				unsigned deadline_ms)
{
	struct api_server srv;
	pthread_t t;

	make_sock_path();
	cr_assert_eq(event_loop_init(&serve_loop), 0);
	cr_assert_eq(api_server_start(&srv, sock_path, &serve_loop,
				      api_routes_handle, &ctx), 0);
	if (deadline_ms)
		atomic_store(&srv.deadline_ms, deadline_ms);
	cr_assert_eq(pthread_create(&t, NULL, client, arg), 0);
	cr_assert_eq(event_loop_run(&serve_loop), 0);
	pthread_join(t, NULL);
	api_server_stop(&srv);
	event_loop_destroy(&serve_loop);
}

struct client {
	struct http_reply replies[4];
};

static void *client_main(void *opaque)
{
	struct client *c = opaque;
	static char big[API_MAX_BODY + 100];
	memset(big, ' ', sizeof(big));
	http("GET", "/", NULL, 0, &c->replies[0]);
	http("PATCH", "/balloon", "{\"amount_mib\": 12,", 18, &c->replies[1]);
	http("PATCH", "/balloon", big, sizeof(big), &c->replies[2]);
	http("PATCH", "/balloon", "{\"amount_mib\": 12}", 18, &c->replies[3]);
	event_loop_stop(&serve_loop);
	return NULL;
}

Test(api_server, server_answers_over_a_unix_socket)
{
	struct client c = {0};

	cfg.balloon.enabled = true;
	serve_until_stopped(client_main, &c, 0);

	/* Every answer is one docs/openapi.json gives. */
	static const char *const sent[][3] = {
		{"GET", "/", NULL},
		{"PATCH", "/balloon", "{\"amount_mib\": 12,"},
		{"PATCH", "/balloon", NULL},
		{"PATCH", "/balloon", "{\"amount_mib\": 12}"},
	};
	for (int i = 0; i < 4; i++)
		expect_reply_documented(sent[i][0], sent[i][1], sent[i][2],
					&c.replies[i]);
	cr_assert_eq(c.replies[0].status, 200);
	cr_assert(strstr(c.replies[0].body, "\"app_name\":\"mvmm\""), "%s",
		  c.replies[0].body);
	cr_assert_eq(c.replies[1].status, 400);
	cr_assert(strstr(c.replies[1].body, "\"fault_message\":\"invalid JSON"),
		  "%s", c.replies[1].body);
	cr_assert_eq(c.replies[2].status, 413, "%s", c.replies[2].body);
	cr_assert_eq(c.replies[3].status, 204);
	cr_assert_eq(cfg.balloon.amount_mib, 12);
	cr_assert(access(sock_path, F_OK) < 0, "socket file removed at stop");
}

struct header_client {
	struct http_reply deprecated, plain, not_allowed;
};

static void *header_client_main(void *opaque)
{
	struct header_client *c = opaque;
	static const char load_old[] =
		"{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}";
	static const char load_new[] = "{\"snapshot_path\": \"/s\"}";
	http("PUT", "/snapshot/load", load_old, sizeof(load_old) - 1,
	     &c->deprecated);
	http("PUT", "/snapshot/load", load_new, sizeof(load_new) - 1, &c->plain);
	http("DELETE", "/balloon", NULL, 0, &c->not_allowed);
	event_loop_stop(&serve_loop);
	return NULL;
}

Test(api_server, deprecation_and_allow_headers_are_sent)
{
	struct header_client c = {0};

	serve_until_stopped(header_client_main, &c, 0);

	/* Firecracker's header for the deprecated mem_file_path (no load
	 * callback here, so both loads are refused after parsing). */
	cr_assert_eq(c.deprecated.status, 400, "%s", c.deprecated.body);
	cr_assert(strstr(c.deprecated.head, "\r\nDeprecation: true"), "%s",
		  c.deprecated.head);
	cr_assert_eq(c.plain.status, 400, "%s", c.plain.body);
	cr_assert_null(strstr(c.plain.head, "Deprecation"), "%s", c.plain.head);
	cr_assert_eq(c.not_allowed.status, 405);
	cr_assert(strstr(c.not_allowed.head, "\r\nAllow: GET, PUT, PATCH"), "%s",
		  c.not_allowed.head);
}

static void echo_handler(void *opaque, const struct api_request *req,
			 struct api_response *resp)
{
	(void)opaque;
	api_respond_json(resp, 200, json_pack("{ss}", "path", req->path));
}

static bool request_waiting(struct api_server *s)
{
	for (int i = 0; i < 400; i++) {
		pthread_mutex_lock(&s->lock);
		bool w = s->queue != NULL;
		pthread_mutex_unlock(&s->lock);
		if (w)
			return true;
		usleep(5000);
	}
	return false;
}

struct one {
	struct event_loop *stop;
	struct http_reply reply;
};

static void *one_request(void *opaque)
{
	struct one *o = opaque;
	http("GET", "/x", NULL, 0, &o->reply);
	if (o->stop)
		event_loop_stop(o->stop);
	return NULL;
}

Test(api_server, server_hands_a_waiting_request_to_the_new_loop)
{
	struct event_loop pre, run;
	struct api_server srv;
	pthread_t t;
	struct one o = {.stop = &run};

	make_sock_path();
	cr_assert_eq(event_loop_init(&pre), 0);
	cr_assert_eq(event_loop_init(&run), 0);
	cr_assert_eq(api_server_start(&srv, sock_path, &pre, echo_handler, NULL), 0);
	pthread_create(&t, NULL, one_request, &o);
	/* The request arrives while no loop runs, then moves with the server. */
	cr_assert(request_waiting(&srv));
	cr_assert_eq(api_server_attach(&srv, &run), 0);
	cr_assert_eq(event_loop_run(&run), 0);
	pthread_join(t, NULL);
	api_server_stop(&srv);
	event_loop_destroy(&pre);
	event_loop_destroy(&run);
	cr_assert_eq(o.reply.status, 200);
	cr_assert_str_eq(o.reply.body, "{\"path\":\"/x\"}");
}

Test(api_server, stop_answers_a_waiting_request_with_503)
{
	struct event_loop loop;
	struct api_server srv;
	pthread_t t;
	struct one o = {0};

	make_sock_path();
	cr_assert_eq(event_loop_init(&loop), 0);
	cr_assert_eq(api_server_start(&srv, sock_path, &loop, echo_handler, NULL),
		     0);
	pthread_create(&t, NULL, one_request, &o);
	cr_assert(request_waiting(&srv));
	api_server_stop(&srv);
	pthread_join(t, NULL);
	event_loop_destroy(&loop);
	cr_assert_eq(o.reply.status, 503);
	cr_assert(strstr(o.reply.body, "fault_message"), "%s", o.reply.body);
}

Test(api_server, start_refuses_a_live_socket_and_replaces_a_stale_one)
{
	struct event_loop loop;
	struct api_server a, b;

	make_sock_path();
	cr_assert_eq(event_loop_init(&loop), 0);

	/* A socket file whose server died. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	cr_assert_eq(api_server_start(&a, sock_path, &loop, echo_handler, NULL), 0);

	cr_assert_eq(api_server_start(&b, sock_path, &loop, echo_handler, NULL),
		     -EADDRINUSE);
	api_server_stop(&b); /* no-op after a failed start */
	api_server_stop(&a);

	/* Never deletes something that is not a socket. */
	fd = open(sock_path, O_CREAT | O_WRONLY, 0600);
	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(api_server_start(&b, sock_path, &loop, echo_handler, NULL),
		     -EEXIST);
	cr_assert_eq(access(sock_path, F_OK), 0);
	unlink(sock_path);
	event_loop_destroy(&loop);
}

/* ---- mvmm_inhibit (issue 6) ---- */

/* ---- hostile local clients (issue 12) ---- */

/* A connected client; reads time out after timeout_ms. */
static int dial(unsigned timeout_ms)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = timeout_ms / 1000,
			     .tv_usec = (timeout_ms % 1000) * 1000};
	strcpy(a.sun_path, sock_path);
	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Sends a raw request and reads the answer's status; -1 when none came. */
static int raw_status(int fd, const char *req, char *body, size_t len)
{
	static char buf[4096];
	size_t got = 0;
	ssize_t r;
	/* A refused client's send can fail (EPIPE) when the server already
	 * answered and closed: the answer is still there to read. */
	(void)send(fd, req, strlen(req), MSG_NOSIGNAL);
	while (got < sizeof(buf) - 1 &&
	       (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = 0;
	int status = -1;
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		return -1;
	const char *b = strstr(buf, "\r\n\r\n");
	if (body)
		snprintf(body, len, "%s", b ? b + 4 : "");
	return status;
}

#define GET_ROOT "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

struct crowd {
	int over_status;
	long over_ms;
	char over_body[512];
	int after_status;
	long cut_ms;
};

/* 16 clients that send a byte now and then (an inactivity timeout never
 * fires for them), one more, then one after the deadline cut them. */
static void *crowd_main(void *opaque)
{
	struct crowd *c = opaque;
	int idle[API_MAX_CONNECTIONS];
	struct timespec t0, t1;
	for (int i = 0; i < API_MAX_CONNECTIONS; i++) {
		idle[i] = dial(3000);
		cr_assert_eq(send(idle[i], "G", 1, MSG_NOSIGNAL), 1);
	}
	usleep(50 * 1000); /* all accepted */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int fd = dial(3000);
	c->over_status = raw_status(fd, GET_ROOT, c->over_body,
				    sizeof(c->over_body));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->over_ms = ms_between(&t0, &t1);
	close(fd);
	/* Dribbling: one byte each per 50 ms until the server cuts them. */
	bool open = true;
	for (int round = 0; round < 100 && open; round++) {
		usleep(50 * 1000);
		open = false;
		for (int i = 0; i < API_MAX_CONNECTIONS; i++)
			if (idle[i] >= 0 &&
			    send(idle[i], "E", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
				open = true;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	c->cut_ms = open ? -1 : ms_between(&t0, &t1);
	for (int i = 0; i < API_MAX_CONNECTIONS; i++)
		close(idle[i]);
	fd = dial(3000);
	c->after_status = raw_status(fd, GET_ROOT, NULL, 0);
	close(fd);
	event_loop_stop(&serve_loop);
	return NULL;
}

Test(api_server, idle_connections_cannot_lock_other_clients_out, .timeout = 20)
{
	struct crowd c = {0};

	serve_until_stopped(crowd_main, &c, 600);

	cr_assert_eq(c.over_status, 503, "the 17th client got %d", c.over_status);
	cr_assert_lt(c.over_ms, 2000, "the 503 took %ld ms", c.over_ms);
	cr_assert(strstr(c.over_body, "\"fault_message\":\"too many connections"),
		  "%s", c.over_body);
	/* Bytes kept coming: only a total deadline ends them. */
	cr_assert(c.cut_ms > 0 && c.cut_ms < 3000,
		  "dribbling clients were cut after %ld ms", c.cut_ms);
	cr_assert_eq(c.after_status, 200);
}

struct late {
	bool answered_first;
	ssize_t sent;
	int send_errno;
	int status;
	int half_closed_status;
	int late_errno;
};

/* Waits up to 3 s for fd to become readable. */
static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 3000) == 1;
}

static void *late_sender_main(void *opaque)
{
	struct late *l = opaque;
	int idle[API_MAX_CONNECTIONS];
	/* The backlog is accepted in order: these take every slot. */
	for (int i = 0; i < API_MAX_CONNECTIONS; i++)
		idle[i] = dial(3000);
	int fd = dial(3000);
	l->answered_first = readable(fd); /* the 503, before any request */
	l->sent = send(fd, GET_ROOT, strlen(GET_ROOT), MSG_NOSIGNAL);
	l->send_errno = l->sent < 0 ? errno : 0;
	l->status = raw_status(fd, "", NULL, 0);
	close(fd);
	/* One that sends its request and shuts its side first (nc -N). */
	fd = dial(3000);
	send(fd, GET_ROOT, strlen(GET_ROOT), MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	l->half_closed_status = raw_status(fd, "", NULL, 0);
	close(fd);
	/* The wait is bounded: a refused socket is closed within a second. */
	fd = dial(3000);
	readable(fd);
	usleep(2500 * 1000);
	l->late_errno = send(fd, "x", 1, MSG_NOSIGNAL) < 0 ? errno : 0;
	close(fd);
	for (int i = 0; i < API_MAX_CONNECTIONS; i++)
		close(idle[i]);
	event_loop_stop(&serve_loop);
	return NULL;
}

/* A refused client whose request comes after the 503 still sends it and
 * reads the answer (the socket used to be closed at once: EPIPE). */
Test(api_server, a_refused_client_sending_late_still_reads_the_503,
     .timeout = 20)
{
	struct late l = {0};

	serve_until_stopped(late_sender_main, &l, 0);

	cr_assert(l.answered_first, "no 503 came before the request");
	cr_assert_eq(l.sent, (ssize_t)strlen(GET_ROOT), "send: %s",
		     strerror(l.send_errno));
	cr_assert_eq(l.status, 503);
	cr_assert_eq(l.half_closed_status, 503, "a client that shut its side");
	cr_assert_eq(l.late_errno, EPIPE, "a send 2.5 s after the 503: %s",
		     strerror(l.late_errno));
}

/* A request whose headers never finish is cut at the deadline. */
Test(api_server, unfinished_headers_are_cut_at_the_request_deadline,
     .timeout = 10)
{
	struct event_loop loop;
	struct api_server srv;
	struct timespec t0, t1;
	char buf[64];

	make_sock_path();
	cr_assert_eq(event_loop_init(&loop), 0);
	cr_assert_eq(api_server_start(&srv, sock_path, &loop, echo_handler, NULL),
		     0);
	atomic_store(&srv.deadline_ms, 300);
	int fd = dial(5000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_gt(send(fd, "GET / HTTP/1.1\r\nHost:", 21, MSG_NOSIGNAL), 0);
	ssize_t r = read(fd, buf, sizeof(buf)); /* EOF when cut */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_leq(r, 0, "an answer to half a request");
	cr_assert(ms_between(&t0, &t1) >= 250 && ms_between(&t0, &t1) < 3000,
		  "cut after %ld ms", ms_between(&t0, &t1));
	close(fd);
	api_server_stop(&srv);
	event_loop_destroy(&loop);
}

struct paths {
	int status[6];
	char body[6][512];
};

static void *paths_main(void *opaque)
{
	struct paths *p = opaque;
	static const char *const reqs[] = {
		"GET /%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /balloon%00/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"PUT /machine-config%00.bak HTTP/1.1\r\nHost: x\r\n"
		"Content-Length: 17\r\nConnection: close\r\n\r\n{\"vcpu_count\": 4}",
		"GET /%7f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET /%c3%a9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		GET_ROOT,
	};
	for (int i = 0; i < 6; i++) {
		int fd = dial(3000);
		p->status[i] = raw_status(fd, reqs[i], p->body[i],
					  sizeof(p->body[i]));
		close(fd);
	}
	event_loop_stop(&serve_loop);
	return NULL;
}

/* Paths were compared as C strings after decoding: "/%00" was "/". */
Test(api_server, a_path_with_nul_or_a_control_byte_gets_400, .timeout = 10)
{
	struct paths p = {0};

	serve_until_stopped(paths_main, &p, 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(p.status[i], 400, "request %d: %d %s", i,
			     p.status[i], p.body[i]);
		cr_assert(strstr(p.body[i], "fault_message"), "%s", p.body[i]);
	}
	cr_assert(strstr(p.body[0], "NUL or a byte outside printable ASCII"),
		  "%s", p.body[0]);
	cr_assert_eq(cfg.vcpu_count, 1, "the PUT reached /machine-config");
	cr_assert_eq(p.status[5], 200, "a plain path still works");
}

Test(api_server, the_socket_is_0600_whatever_the_umask)
{
	struct event_loop loop;
	struct api_server srv;
	struct stat st;

	make_sock_path();
	mode_t old = umask(0);
	cr_assert_eq(event_loop_init(&loop), 0);
	cr_assert_eq(api_server_start(&srv, sock_path, &loop, echo_handler, NULL),
		     0);
	umask(old);
	cr_assert_eq(stat(sock_path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	api_server_stop(&srv);
	event_loop_destroy(&loop);
}

/* A server that accepts nothing (its backlog full) at the socket path: the
 * stale-socket check must not wait for it. */
Test(api_server, start_does_not_wait_on_a_busy_socket, .timeout = 10)
{
	struct event_loop loop;
	struct api_server srv;
	int clients[8], n = 0;

	make_sock_path();
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 0), 0);
	/* Fill the backlog until a connect would block. */
	for (; n < 8; n++) {
		clients[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(clients[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(clients[n]);
			break;
		}
	}
	cr_assert_lt(n, 8, "the backlog never filled");
	cr_assert_eq(event_loop_init(&loop), 0);
	cr_assert_eq(api_server_start(&srv, sock_path, &loop, echo_handler, NULL),
		     -EADDRINUSE);
	for (int i = 0; i < n; i++)
		close(clients[i]);
	close(lfd);
	unlink(sock_path);
	event_loop_destroy(&loop);
}
