/* The guest console's output: a bounded ring under a rate limit, drained by
 * the main loop without blocking (console.h). */
#include "vm/console.h"

#include <core/clock.h>
#include <core/log.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* The longest idle time that still refills tokens: the whole burst comes
 * back in 8 s, and the product below cannot overflow. */
#define CONSOLE_REFILL_MAX_NS (10ULL * 1000000000ULL)

/* A non-blocking way to write fd: its own file description where one can be
 * opened (stdout may be shared with a shell and with mvmm's log on stderr,
 * and O_NONBLOCK there would reach them), else the flag on fd itself, put
 * back at destroy. */
static void console_open_out(struct console *c, int fd)
{
	struct stat st;
	char path[32];

	if (fstat(fd, &st) < 0)
		return; /* no stdout: output is dropped */
	c->out_fd = fd;
	if (S_ISREG(st.st_mode))
		return; /* writes to a file end; epoll cannot watch it */
	c->pollable = true;
	if (S_ISSOCK(st.st_mode)) {
		c->use_send = true;
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd >= 0) {
		c->out_fd = nfd;
		c->own_fd = true;
		return;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK) &&
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
		c->restore_fl = fl;
}

int console_init(struct console *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->out_fd = c->kick_fd = c->batch_fd = c->restore_fl = -1;
	c->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->batch_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	c->ring = malloc(CONSOLE_RING_BYTES);
	if (c->kick_fd < 0 || c->batch_fd < 0 || !c->ring) {
		int r = c->ring ? -errno : -ENOMEM;
		free(c->ring);
		c->ring = NULL;
		if (c->kick_fd >= 0)
			close(c->kick_fd);
		if (c->batch_fd >= 0)
			close(c->batch_fd);
		c->kick_fd = c->batch_fd = -1;
		return r;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->tokens = CONSOLE_BURST_BYTES;
	c->last_ns = clock_now_ns();
	console_open_out(c, fd);
	return 0;
}

static void on_writable(void *opaque, uint32_t events)
{
	(void)events;
	console_flush(opaque);
}

/* Empties an eventfd's or timerfd's counter, then writes what is queued. */
static void consume_and_flush(struct console *c, int fd)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "console: wake-up fd: %s",
				strerror(errno));
	console_flush(c);
}

/* The ring reached half full. */
static void on_kick(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	(void)events;
	consume_and_flush(c, c->kick_fd);
}

/* The batch's timer ran out. */
static void on_batch(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	(void)events;
	consume_and_flush(c, c->batch_fd);
}

int console_attach(struct console *c, struct event_loop *loop)
{
	if (!c->ring)
		return 0;
	int r = event_loop_add(loop, c->kick_fd, 0, on_kick, c);
	if (r)
		return r;
	if ((r = event_loop_add(loop, c->batch_fd, 0, on_batch, c))) {
		event_loop_del(loop, c->kick_fd);
		return r;
	}
	c->loop = loop;
	return 0;
}

static void console_arm(struct console *c)
{
	if (c->armed || !c->pollable || !c->loop)
		return;
	int r = event_loop_add(c->loop, c->out_fd, EPOLLOUT, on_writable, c);
	if (r == 0)
		c->armed = true;
	else
		log_ratelimited(LOG_WARN, "console: cannot wait for the output: %s",
				strerror(-r));
}

static void console_disarm(struct console *c)
{
	if (c->armed)
		event_loop_del(c->loop, c->out_fd);
	c->armed = false;
}

/* Tokens for the time since the last write, up to the burst. */
static void console_refill(struct console *c, uint64_t now_ns)
{
	if (now_ns <= c->last_ns)
		return;
	uint64_t dt = now_ns - c->last_ns;
	if (dt > CONSOLE_REFILL_MAX_NS)
		dt = CONSOLE_REFILL_MAX_NS;
	c->last_ns = now_ns;
	c->tokens += dt * CONSOLE_RATE_BYTES_PER_S / 1000000000ULL;
	if (c->tokens > CONSOLE_BURST_BYTES)
		c->tokens = CONSOLE_BURST_BYTES;
}

void console_write_at(struct console *c, const uint8_t *buf, size_t len,
		      uint64_t now_ns)
{
	if (!c->ring || !len)
		return;
	pthread_mutex_lock(&c->lock);
	console_refill(c, now_ns);
	size_t ok = len < c->tokens ? len : (size_t)c->tokens;
	c->st.bytes_dropped_rate += len - ok;
	size_t room = c->out_fd < 0 ? 0 : CONSOLE_RING_BYTES - c->len;
	size_t n = ok < room ? ok : room;
	c->st.bytes_dropped_full += ok - n;
	c->tokens -= n;
	bool starts = c->len == 0 && n > 0;
	bool kick = c->len < CONSOLE_RING_BYTES / 2 &&
		    c->len + n >= CONSOLE_RING_BYTES / 2;
	size_t tail = (c->head + c->len) % CONSOLE_RING_BYTES;
	size_t first = CONSOLE_RING_BYTES - tail < n ? CONSOLE_RING_BYTES - tail
						     : n;
	memcpy(c->ring + tail, buf, first);
	memcpy(c->ring, buf + first, n - first);
	c->len += n;
	pthread_mutex_unlock(&c->lock);
	if (starts) {
		const struct itimerspec batch = {
			.it_value = {.tv_nsec = (long)CONSOLE_BATCH_NS}};
		if (timerfd_settime(c->batch_fd, 0, &batch, NULL) < 0) {
			log_ratelimited(LOG_WARN, "console: timerfd: %s",
					strerror(errno));
			kick = true;
		}
	}
	/* A full eventfd counter is still readable: EAGAIN is fine. */
	uint64_t one = 1;
	if (kick && write(c->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "console: eventfd: %s",
				strerror(errno));
}

void console_write(struct console *c, const uint8_t *buf, size_t len)
{
	console_write_at(c, buf, len, clock_now_ns());
}

void console_serial_out(void *opaque, const uint8_t *buf, size_t len)
{
	console_write(opaque, buf, len);
}

/* Everything queued is lost (the reader went away). */
static void console_drop_queued(struct console *c)
{
	pthread_mutex_lock(&c->lock);
	c->st.bytes_dropped_full += c->len;
	c->head = c->len = 0;
	pthread_mutex_unlock(&c->lock);
}

void console_flush(struct console *c)
{
	if (!c->ring)
		return;
	if (c->out_fd < 0) {
		console_drop_queued(c);
		return;
	}
	for (;;) {
		/* vCPUs only append after head + len: the bytes read here stay
		 * put while the lock is not held. */
		pthread_mutex_lock(&c->lock);
		size_t n = CONSOLE_RING_BYTES - c->head;
		n = c->len < n ? c->len : n;
		const uint8_t *p = c->ring + c->head;
		pthread_mutex_unlock(&c->lock);
		if (!n) {
			console_disarm(c);
			return;
		}
		ssize_t w = c->use_send
				    ? send(c->out_fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL)
				    : write(c->out_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			console_arm(c);
			return;
		}
		if (w <= 0) {
			/* EPIPE and the like: nobody reads any more. */
			log_ratelimited(LOG_WARN, "console: output lost: %s",
					w < 0 ? strerror(errno) : "closed");
			console_disarm(c);
			console_drop_queued(c);
			return;
		}
		pthread_mutex_lock(&c->lock);
		c->head = (c->head + (size_t)w) % CONSOLE_RING_BYTES;
		c->len -= (size_t)w;
		c->st.bytes_written += (uint64_t)w;
		pthread_mutex_unlock(&c->lock);
	}
}

void console_drain(struct console *c, unsigned timeout_ms)
{
	if (!c->ring)
		return;
	uint64_t end = clock_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		console_flush(c);
		pthread_mutex_lock(&c->lock);
		size_t left = c->len;
		pthread_mutex_unlock(&c->lock);
		uint64_t now = clock_now_ns();
		if (!left || c->out_fd < 0 || now >= end)
			return;
		struct pollfd p = {.fd = c->out_fd, .events = POLLOUT};
		if (poll(&p, 1, (int)((end - now) / 1000000u) + 1) < 0 &&
		    errno != EINTR)
			return;
	}
}

void console_get_stats(struct console *c, struct console_stats *out)
{
	if (!c->ring) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	pthread_mutex_unlock(&c->lock);
}

void console_destroy(struct console *c)
{
	if (!c->ring)
		return;
	console_disarm(c);
	if (c->loop) {
		event_loop_del(c->loop, c->kick_fd);
		event_loop_del(c->loop, c->batch_fd);
	}
	c->loop = NULL; /* the last flush arms nothing */
	console_flush(c);
	console_drop_queued(c);
	close(c->kick_fd);
	close(c->batch_fd);
	if (c->own_fd)
		close(c->out_fd);
	if (c->restore_fl >= 0)
		fcntl(c->out_fd, F_SETFL, c->restore_fl);
	pthread_mutex_destroy(&c->lock);
	free(c->ring);
	memset(c, 0, sizeof(*c));
}
