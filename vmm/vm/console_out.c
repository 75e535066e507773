#include "vm/console_out.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* Drops what cannot be written: a console gone must not stop the guest. */
static void write_out(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void flush_locked(struct console_out *c)
{
	write_out(c->fd, c->buf, c->len);
	c->len = 0;
}

static void arm_locked(struct console_out *c)
{
	struct itimerspec its = {
		.it_value.tv_nsec = CONSOLE_OUT_PARTIAL_MS * 1000000L,
	};
	if (c->armed)
		return;
	if (timerfd_settime(c->timer_fd, 0, &its, NULL) == 0)
		c->armed = true;
	else
		flush_locked(c); /* no timer: no buffering */
}

/* Main loop: the partial line's time is up. */
static void on_timer(void *opaque, uint32_t events)
{
	struct console_out *c = opaque;
	uint64_t ticks;
	struct pollfd p = {.fd = c->fd, .events = POLLOUT};
	(void)events;
	if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	pthread_mutex_lock(&c->lock);
	c->armed = false;
	/* The loop must not block on a reader that stopped reading: try again
	 * later instead (the vCPU's flush on a full line still blocks, as an
	 * unbuffered console would). */
	if (c->len && poll(&p, 1, 0) == 1 && !(p.revents & POLLOUT))
		arm_locked(c);
	else
		flush_locked(c);
	pthread_mutex_unlock(&c->lock);
}

int console_out_init(struct console_out *c, int fd, struct event_loop *loop)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->timer_fd < 0)
		return -errno;
	int r = pthread_mutex_init(&c->lock, NULL);
	if (r) {
		close(c->timer_fd);
		c->timer_fd = -1;
		return -r;
	}
	r = event_loop_add(loop, c->timer_fd, 0, on_timer, c);
	if (r) {
		pthread_mutex_destroy(&c->lock);
		close(c->timer_fd);
		c->timer_fd = -1;
	}
	return r;
}

void console_out_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct console_out *c = opaque;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < len; i++) {
		c->buf[c->len++] = buf[i];
		if (buf[i] == '\n' || c->len == sizeof(c->buf))
			flush_locked(c);
	}
	if (c->len)
		arm_locked(c);
	pthread_mutex_unlock(&c->lock);
}

void console_out_flush(struct console_out *c)
{
	pthread_mutex_lock(&c->lock);
	flush_locked(c);
	pthread_mutex_unlock(&c->lock);
}

void console_out_destroy(struct console_out *c)
{
	if (c->timer_fd < 0)
		return;
	console_out_flush(c);
	close(c->timer_fd);
	c->timer_fd = -1;
	pthread_mutex_destroy(&c->lock);
}
