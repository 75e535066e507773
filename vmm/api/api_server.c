/* The API server: the queue between the API thread and the main loop, the
 * API thread's poll loop, and start/stop. HTTP is in api_http.c, the socket
 * and admission in api_listen.c, answers in api_response.c. */
#include "api/api_server_priv.h"

#include <core/clock.h>
#include <core/log.h>

#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* How long stop waits for answers already queued to be sent. */
#define API_STOP_GRACE_S 1

/* ---- between the threads (lock held) ---- */

void api_list_push(struct api_item **head, struct api_item *it)
{
	it->next = NULL;
	while (*head)
		head = &(*head)->next;
	*head = it;
}

void api_wake(int fd)
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
	api_list_push(&s->ready, it);
	api_wake(s->wake_fd);
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

/* ---- API thread ---- */

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
	/* From inside: naming another thread needs /proc (not in a jail). */
	pthread_setname_np(pthread_self(), "mvmm-api");
	/* Before any byte a client sent is read (the thread's seccomp). */
	if (s->thread_init)
		s->thread_init(s->ctx);
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	int mhd_fd = di ? di->epoll_fd : -1;

	while (!resume_ready(s)) {
		MHD_run(s->mhd);
		int timeout = min_timeout(api_watchdog(s),
					  api_refused_expire(s, false));
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
			api_accept_all(s);
	}
	api_refused_expire(s, true);
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
		api_wake(s->event_fd);
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
	if ((r = api_listen_unix(sock_path)) < 0)
		goto err;
	s->listen_fd = r;
	s->mhd = api_http_start(s);
	if (!s->mhd) {
		log_error("api: cannot start the HTTP server on %s", sock_path);
		r = -EIO;
		goto err_unlink;
	}
	/* Running before the thread serves: a client that connects the
	 * moment the socket listens was told "shutting down" (503). */
	s->phase = API_SERVER_RUNNING;
	if ((r = start_thread(s))) {
		s->phase = API_SERVER_OFF;
		log_error("api: cannot start its thread: %s", strerror(-r));
		MHD_stop_daemon(s->mhd);
		goto err_unlink;
	}
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
	api_wake(s->wake_fd);
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
