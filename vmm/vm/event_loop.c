#include "vm/event_loop.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int event_loop_init(struct event_loop *el)
{
	memset(el, 0, sizeof(*el));
	el->epfd = el->stop_fd = -1; /* destroy after a failed init */
	for (unsigned i = 0; i < EVENT_LOOP_MAX; i++)
		el->sources[i].fd = -1;
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (el->epfd < 0)
		return -errno;
	el->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (el->stop_fd < 0) {
		int e = -errno;
		close(el->epfd);
		return e;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, el->stop_fd, &ev) < 0) {
		int e = -errno;
		event_loop_destroy(el);
		return e;
	}
	return 0;
}

void event_loop_destroy(struct event_loop *el)
{
	if (el->epfd >= 0)
		close(el->epfd);
	if (el->stop_fd >= 0)
		close(el->stop_fd);
	el->epfd = el->stop_fd = -1;
}

int event_loop_add(struct event_loop *el, int fd, uint32_t events, event_fn fn,
		   void *opaque)
{
	struct event_source *slot = NULL;
	for (unsigned i = 0; i < EVENT_LOOP_MAX && !slot; i++)
		if (el->sources[i].fd < 0)
			slot = &el->sources[i];
	if (!slot)
		return -ENOSPC;
	struct epoll_event ev = {.events = events ? events : EPOLLIN,
				 .data.ptr = slot};
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*slot = (struct event_source){fd, fn, opaque};
	return 0;
}

int event_loop_del(struct event_loop *el, int fd)
{
	for (unsigned i = 0; i < EVENT_LOOP_MAX; i++) {
		if (el->sources[i].fd == fd) {
			epoll_ctl(el->epfd, EPOLL_CTL_DEL, fd, NULL);
			el->sources[i].fd = -1;
			return 0;
		}
	}
	return -ENOENT;
}

int event_loop_run(struct event_loop *el)
{
	struct epoll_event evs[16];
	while (!el->stopping) {
		int n = epoll_wait(el->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !el->stopping; i++) {
			struct event_source *s = evs[i].data.ptr;
			if (!s) { /* stop_fd */
				uint64_t v;
				if (read(el->stop_fd, &v, sizeof(v)) < 0)
					(void)0;
				continue;
			}
			/* A handler may have removed this source. */
			if (s->fd >= 0)
				s->fn(s->opaque, evs[i].events);
		}
	}
	return 0;
}

void event_loop_stop(struct event_loop *el)
{
	uint64_t one = 1;
	el->stopping = true;
	if (write(el->stop_fd, &one, sizeof(one)) < 0)
		(void)0;
}
