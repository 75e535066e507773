/* Deferred answers through the real API server on a Unix socket: a handler
 * sets API_STATUS_DEFERRED and api_server_answer() gives the answer later
 * from the main loop, or before the handler returned. */
#include "api/api_server.h"
#include "vm/event_loop.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The loop is stopped by the clients; this only ends a hung test. */
#define WATCHDOG_MS 3000
#define CLIENT_TIMEOUT_S 2

struct reply {
	int status;
	char body[512];
};

/* The server, its loop and what the handler and clients saw. Main loop
 * fields are written there only; seq orders events across threads. */
struct bed {
	char sock_path[108];
	struct event_loop loop;
	struct api_server srv;
	int timer_fd;    /* answers /later when it fires */
	int kick_fd;     /* eventfd: answers /held when written */
	int watchdog_fd;
	bool started;
	atomic_int seq;
	atomic_int later_deferred; /* seq when /later or /held deferred */
	atomic_int held_answered;  /* seq when /held was answered */
	atomic_int echo_handled;   /* seq when /echo's handler ran */
	atomic_int second_sent;    /* seq when the second client had sent */
	int handler_calls;
	bool watchdog_fired;
	struct reply replies[4];
};

static struct bed bed;

static int next_seq(void) { return atomic_fetch_add(&bed.seq, 1) + 1; }

static void answer(unsigned status, const char *what)
{
	struct api_response r = {0};
	api_respond_json(&r, status, json_pack("{ss}", "answer", what));
	api_server_answer(&bed.srv, &r);
	cr_assert_null(r.body, "api_server_answer takes the body");
}

static void handler(void *opaque, const struct api_request *req,
		    struct api_response *resp)
{
	cr_assert_eq(opaque, &bed);
	bed.handler_calls++;
	if (!strcmp(req->path, "/later")) {
		/* Answered when the timer fires, 20 ms from now. */
		struct itimerspec its = {.it_value = {.tv_nsec = 20 * 1000 * 1000}};
		cr_assert_eq(timerfd_settime(bed.timer_fd, 0, &its, NULL), 0);
		resp->status = API_STATUS_DEFERRED;
		atomic_store(&bed.later_deferred, next_seq());
	} else if (!strcmp(req->path, "/held")) {
		/* Answered when the second client says it has sent. */
		resp->status = API_STATUS_DEFERRED;
		atomic_store(&bed.later_deferred, next_seq());
	} else if (!strcmp(req->path, "/now")) {
		/* The work finished at once: answered before returning. */
		answer(201, "now");
		resp->status = API_STATUS_DEFERRED;
	} else if (!strcmp(req->path, "/echo")) {
		atomic_store(&bed.echo_handled, next_seq());
		api_respond_json(resp, 200, json_pack("{ss}", "path", req->path));
	} else {
		api_respond_error(resp, 404, "no %s", req->path);
	}
}

static void on_timer(void *opaque, uint32_t events)
{
	uint64_t n;
	(void)opaque;
	(void)events;
	if (read(bed.timer_fd, &n, sizeof(n)) == sizeof(n))
		answer(200, "later");
}

static void on_kick(void *opaque, uint32_t events)
{
	uint64_t n;
	(void)opaque;
	(void)events;
	if (read(bed.kick_fd, &n, sizeof(n)) == sizeof(n)) {
		atomic_store(&bed.held_answered, next_seq());
		answer(200, "held");
	}
}

static void on_watchdog(void *opaque, uint32_t events)
{
	(void)opaque;
	(void)events;
	bed.watchdog_fired = true;
	event_loop_stop(&bed.loop);
}

static void setup(void)
{
	memset(&bed, 0, sizeof(bed));
	snprintf(bed.sock_path, sizeof(bed.sock_path),
		 "/tmp/mvmm-deferred-%d.sock", (int)getpid());
	unlink(bed.sock_path);
	cr_assert_eq(event_loop_init(&bed.loop), 0);
	bed.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	bed.kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	bed.watchdog_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	cr_assert(bed.timer_fd >= 0 && bed.kick_fd >= 0 && bed.watchdog_fd >= 0);
	cr_assert_eq(event_loop_add(&bed.loop, bed.timer_fd, 0, on_timer, NULL), 0);
	cr_assert_eq(event_loop_add(&bed.loop, bed.kick_fd, 0, on_kick, NULL), 0);
	cr_assert_eq(event_loop_add(&bed.loop, bed.watchdog_fd, 0, on_watchdog,
				    NULL), 0);
	struct itimerspec its = {
		.it_value = {.tv_sec = WATCHDOG_MS / 1000,
			     .tv_nsec = (WATCHDOG_MS % 1000) * 1000000L}};
	cr_assert_eq(timerfd_settime(bed.watchdog_fd, 0, &its, NULL), 0);
	cr_assert_eq(api_server_start(&bed.srv, bed.sock_path, &bed.loop,
				      handler, &bed), 0);
	bed.started = true;
}

static void teardown(void)
{
	if (bed.started)
		api_server_stop(&bed.srv);
	close(bed.timer_fd);
	close(bed.kick_fd);
	close(bed.watchdog_fd);
	event_loop_destroy(&bed.loop);
	unlink(bed.sock_path);
}

TestSuite(api_deferred, .init = setup, .fini = teardown, .timeout = 10);

/* ---- a raw HTTP/1.1 client ---- */

static int connect_unix(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = CLIENT_TIMEOUT_S};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", bed.sock_path);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_req(int fd, const char *method, const char *path)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			 "Content-Length: 0\r\nConnection: close\r\n\r\n",
			 method, path);
	return send(fd, head, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

static int send_get(int fd, const char *path)
{
	return send_req(fd, "GET", path);
}

/* Reads to EOF (or the timeout); status -1 when no HTTP answer came. */
static void read_reply(int fd, struct reply *out)
{
	char buf[2048];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(buf) - 1 &&
	       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = 0;
	if (sscanf(buf, "HTTP/1.1 %d", &out->status) != 1)
		out->status = -1;
	const char *b = strstr(buf, "\r\n\r\n");
	snprintf(out->body, sizeof(out->body), "%s", b ? b + 4 : "");
}

static void get(const char *path, struct reply *out)
{
	out->status = -1;
	out->body[0] = 0;
	int fd = connect_unix();
	if (fd < 0)
		return;
	if (!send_get(fd, path))
		read_reply(fd, out);
	close(fd);
}

static void run_loop_with(void *(*client)(void *))
{
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, client, NULL), 0);
	cr_assert_eq(event_loop_run(&bed.loop), 0);
	pthread_join(t, NULL);
	cr_assert_not(bed.watchdog_fired, "the test hung");
}

/* ---- answered later from the main loop ---- */

static void *later_client(void *unused)
{
	(void)unused;
	get("/later", &bed.replies[0]);
	get("/echo", &bed.replies[1]);
	event_loop_stop(&bed.loop);
	return NULL;
}

Test(api_deferred, answer_from_a_later_event_reaches_the_client)
{
	run_loop_with(later_client);
	cr_assert_eq(bed.replies[0].status, 200, "%s", bed.replies[0].body);
	cr_assert_str_eq(bed.replies[0].body, "{\"answer\":\"later\"}");
	cr_assert_gt(atomic_load(&bed.later_deferred), 0);
	/* The server takes requests again once the deferred one is answered. */
	cr_assert_eq(bed.replies[1].status, 200);
	cr_assert_str_eq(bed.replies[1].body, "{\"path\":\"/echo\"}");
	cr_assert_eq(bed.handler_calls, 2);
}

/* ---- answered before the handler returned ---- */

static void *now_client(void *unused)
{
	(void)unused;
	get("/now", &bed.replies[0]);
	get("/now", &bed.replies[1]);
	get("/echo", &bed.replies[2]);
	get("/later", &bed.replies[3]);
	event_loop_stop(&bed.loop);
	return NULL;
}

Test(api_deferred, answer_given_inside_the_handler_completes_the_request)
{
	run_loop_with(now_client);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(bed.replies[i].status, 201, "reply %d: %s", i,
			     bed.replies[i].body);
		cr_assert_str_eq(bed.replies[i].body, "{\"answer\":\"now\"}");
	}
	cr_assert_eq(bed.replies[2].status, 200);
	cr_assert_str_eq(bed.replies[2].body, "{\"path\":\"/echo\"}");
	/* A truly deferred request after synchronous ones still works. */
	cr_assert_eq(bed.replies[3].status, 200);
	cr_assert_str_eq(bed.replies[3].body, "{\"answer\":\"later\"}");
	cr_assert_eq(bed.handler_calls, 4);
}

/* ---- a second request while the first is deferred ---- */

static void *second_client(void *unused)
{
	(void)unused;
	/* Once the first request is held, send ours... */
	for (int i = 0; i < 400 && !atomic_load(&bed.later_deferred); i++)
		usleep(1000);
	int fd = connect_unix();
	if (fd >= 0 && !send_req(fd, "PUT", "/echo")) {
		atomic_store(&bed.second_sent, next_seq());
		/* ...give a wrong server time to handle it, then let the
		 * main loop answer the first. */
		usleep(30 * 1000);
		uint64_t one = 1;
		if (write(bed.kick_fd, &one, sizeof(one)) != sizeof(one))
			atomic_store(&bed.second_sent, -1);
		read_reply(fd, &bed.replies[1]);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *first_client(void *unused)
{
	pthread_t t;
	(void)unused;
	pthread_create(&t, NULL, second_client, NULL);
	get("/held", &bed.replies[0]);
	pthread_join(t, NULL);
	event_loop_stop(&bed.loop);
	return NULL;
}

/* A request that changes state waits for the deferred one (a PATCH /vm
 * could pause the VM under a snapshot's hint run). */
Test(api_deferred, request_behind_a_deferred_one_waits_for_its_answer)
{
	run_loop_with(first_client);
	cr_assert_eq(bed.replies[0].status, 200, "%s", bed.replies[0].body);
	cr_assert_str_eq(bed.replies[0].body, "{\"answer\":\"held\"}");
	cr_assert_eq(bed.replies[1].status, 200, "%s", bed.replies[1].body);
	cr_assert_str_eq(bed.replies[1].body, "{\"path\":\"/echo\"}");
	int deferred = atomic_load(&bed.later_deferred);
	int sent = atomic_load(&bed.second_sent);
	int answered = atomic_load(&bed.held_answered);
	int echoed = atomic_load(&bed.echo_handled);
	cr_assert(deferred > 0 && sent > deferred, "sent %d, deferred %d", sent,
		  deferred);
	cr_assert_gt(answered, sent);
	/* The second handler ran only after the first was answered. */
	cr_assert_gt(echoed, answered, "echo at %d, first answered at %d",
		     echoed, answered);
	cr_assert_eq(bed.handler_calls, 2);
}

/* ---- issue 12: a GET while a request is deferred ---- */

struct timed_get {
	struct reply reply;
	long ms;
};

static void *get_while_held(void *arg)
{
	struct timed_get *g = arg;
	struct timespec t0, t1;
	for (int i = 0; i < 1000 && !atomic_load(&bed.later_deferred); i++)
		usleep(1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	get("/echo", &g->reply);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	g->ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		(t1.tv_nsec - t0.tv_nsec) / 1000000;
	/* Now let the main loop answer the held request. */
	uint64_t one = 1;
	if (write(bed.kick_fd, &one, sizeof(one)) != sizeof(one))
		g->ms = -1;
	return NULL;
}

static struct timed_get timed;

static void *held_then_get(void *unused)
{
	pthread_t t;
	(void)unused;
	pthread_create(&t, NULL, get_while_held, &timed);
	get("/held", &bed.replies[0]);
	pthread_join(t, NULL);
	event_loop_stop(&bed.loop);
	return NULL;
}

/* snapshot/create holds its answer for up to hint_timeout_ms (600 s): the
 * API thread waited with it, and no one else was answered meanwhile. */
Test(api_deferred, get_is_answered_while_a_request_is_deferred)
{
	run_loop_with(held_then_get);
	cr_assert_eq(timed.reply.status, 200, "%s", timed.reply.body);
	cr_assert_str_eq(timed.reply.body, "{\"path\":\"/echo\"}");
	cr_assert(timed.ms >= 0 && timed.ms < 1000, "GET took %ld ms", timed.ms);
	int echoed = atomic_load(&bed.echo_handled);
	int answered = atomic_load(&bed.held_answered);
	cr_assert(echoed > 0 && answered > echoed,
		  "echo at %d, held answered at %d", echoed, answered);
	cr_assert_eq(bed.replies[0].status, 200, "%s", bed.replies[0].body);
	cr_assert_str_eq(bed.replies[0].body, "{\"answer\":\"held\"}");
}

/* ---- stop while a request is deferred ---- */

static void *held_client(void *unused)
{
	(void)unused;
	get("/held", &bed.replies[0]);
	return NULL;
}

/* Ends the loop once the handler has deferred the request. */
static void *stop_when_deferred(void *unused)
{
	(void)unused;
	for (int i = 0; i < 1000 && !atomic_load(&bed.later_deferred); i++)
		usleep(1000);
	event_loop_stop(&bed.loop);
	return NULL;
}

Test(api_deferred, stop_answers_a_deferred_request_with_503)
{
	pthread_t client;
	cr_assert_eq(pthread_create(&client, NULL, held_client, NULL), 0);
	run_loop_with(stop_when_deferred);
	cr_assert_gt(atomic_load(&bed.later_deferred), 0);
	api_server_stop(&bed.srv);
	bed.started = false;
	pthread_join(client, NULL);
	cr_assert_eq(bed.replies[0].status, 503, "%s", bed.replies[0].body);
	cr_assert(strstr(bed.replies[0].body, "fault_message"), "%s",
		  bed.replies[0].body);
}
