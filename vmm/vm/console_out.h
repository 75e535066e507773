/* The guest's serial output to a host fd, a line per write() instead of a
 * byte per write(): the 8250 hands over one byte per port exit, and a
 * write() per byte (plus a reader woken per byte) is most of what a
 * console-bound boot costs the host (docs/performance.md, "Boot"). A partial
 * line (a prompt, an echoed key) goes out CONSOLE_OUT_PARTIAL_MS later.
 *
 * Threads: console_out_write() runs on vCPU threads (the serial device's
 * output callback), the partial-line timer on the main loop; the object's
 * own lock orders them. */
#ifndef VMM_CONSOLE_OUT_H
#define VMM_CONSOLE_OUT_H

#include "vm/event_loop.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_OUT_BUF 1024
#define CONSOLE_OUT_PARTIAL_MS 10

struct console_out {
	pthread_mutex_t lock;
	int fd;       /* not owned */
	int timer_fd; /* one-shot: flushes a partial line */
	bool armed;
	size_t len;
	uint8_t buf[CONSOLE_OUT_BUF];
};

/* Output goes to fd; the timer is watched by loop. 0 or -errno. */
int console_out_init(struct console_out *c, int fd, struct event_loop *loop);
/* A serial_out write callback (opaque is the console_out). */
void console_out_write(void *opaque, const uint8_t *buf, size_t len);
/* Writes out what is buffered (blocking). */
void console_out_flush(struct console_out *c);
/* Flushes, then frees; the loop must no longer run. */
void console_out_destroy(struct console_out *c);

#endif
