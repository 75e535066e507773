/* The main thread's epoll loop. Handlers run on the main thread only.
 * Threads: owned by the main thread; event_loop_stop() may be called from
 * any thread. */
#ifndef VMM_EVENT_LOOP_H
#define VMM_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*event_fn)(void *opaque, uint32_t events);

#define EVENT_LOOP_MAX 64

struct event_source {
	int fd;
	event_fn fn;
	void *opaque;
};

struct event_loop {
	int epfd;
	int stop_fd; /* eventfd: wakes the loop to stop */
	volatile bool stopping;
	struct event_source sources[EVENT_LOOP_MAX];
};

int event_loop_init(struct event_loop *el);
void event_loop_destroy(struct event_loop *el);
/* Watches fd for EPOLLIN (or `events`); 0 or -errno. */
int event_loop_add(struct event_loop *el, int fd, uint32_t events, event_fn fn,
		   void *opaque);
int event_loop_del(struct event_loop *el, int fd);
/* Runs until event_loop_stop(); returns 0 or -errno. */
int event_loop_run(struct event_loop *el);
void event_loop_stop(struct event_loop *el);

#endif
