/* The guest console's output path. The UART hands its bytes to
 * console_write on the vCPU that wrote them (with the UART's lock held); they
 * go into a bounded ring under a rate limit, and the main loop drains the
 * ring into the output fd without ever blocking (EPOLLOUT while the reader
 * is slow). Nothing here waits for the reader: a console nobody reads costs
 * dropped bytes, counted, never a stuck vCPU or main loop.
 *
 * The output is written through a non-blocking file description of its own
 * (a reopen of /proc/self/fd/N), so the shared stdout of the shell or of
 * mvmm's own logging keeps its flags; a socket takes send(MSG_DONTWAIT); a
 * regular file or /dev/null is written directly (their writes end).
 *
 * The main loop is woken once per batch, not per byte: the first byte into
 * an empty ring arms a CONSOLE_BATCH_NS timer; a ring half full wakes it at
 * once.
 *
 * Threads: console_write from any thread; the rest on the main thread. */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include "vm/event_loop.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Memory held for a slow reader. */
#define CONSOLE_RING_BYTES (64u * 1024)
/* Output is gathered this long before the main loop is woken (or until the
 * ring is half full): the UART hands over one byte per exit, and a wake-up
 * per byte cost two thread switches per byte, plus, in the nested test
 * host, interrupts that meet its emulator's faults (docs/testing.md). */
#define CONSOLE_BATCH_NS (2ULL * 1000 * 1000)
/* A guest may print this much at once (a boot log is 30-60 KiB)... */
#define CONSOLE_BURST_BYTES (1024u * 1024)
/* ...and this much per second after that: a console flood cannot fill the
 * host's disk faster (0.5 GiB an hour). */
#define CONSOLE_RATE_BYTES_PER_S (128u * 1024)

struct console_stats {
	uint64_t bytes_written;      /* reached the output */
	uint64_t bytes_dropped_full; /* the ring was full: a slow reader */
	uint64_t bytes_dropped_rate; /* over the rate limit */
};

struct console {
	pthread_mutex_t lock; /* ring, tokens, stats */
	uint8_t *ring;        /* NULL: not set up (console_destroy no-op) */
	size_t head, len;
	uint64_t tokens, last_ns;
	struct console_stats st;

	int out_fd;
	bool own_fd;    /* opened here: closed by destroy */
	bool use_send;  /* a socket */
	bool pollable;  /* can wait for EPOLLOUT (not a regular file) */
	int restore_fl; /* >= 0: fd's flags to put back at destroy */
	int kick_fd;    /* eventfd: the ring reached half full */
	int batch_fd;   /* timerfd: armed by a batch's first byte */
	struct event_loop *loop;
	bool armed;     /* out_fd watched for EPOLLOUT */
};

/* Sets up output to fd (not taken over). 0 or -errno. */
int console_init(struct console *c, int fd);
/* Drains from this loop from now on. 0 or -errno. */
int console_attach(struct console *c, struct event_loop *loop);
/* Queues guest output; never blocks. */
void console_write(struct console *c, const uint8_t *buf, size_t len);
/* The same at a given CLOCK_MONOTONIC time (the rate limit's clock). */
void console_write_at(struct console *c, const uint8_t *buf, size_t len,
		      uint64_t now_ns);
/* Main loop: writes what the output takes now. */
void console_flush(struct console *c);
/* At exit, once no vCPU runs: writes what is queued, waiting for a slow
 * reader up to timeout_ms (a guest's last lines before a crash matter; a
 * reader that stopped must not hold the exit). */
void console_drain(struct console *c, unsigned timeout_ms);
void console_get_stats(struct console *c, struct console_stats *out);
/* One last non-blocking flush (what is left is counted dropped), then
 * frees. A no-op on a zeroed or destroyed console. */
void console_destroy(struct console *c);

/* A struct serial_out write callback; opaque is the console. */
void console_serial_out(void *opaque, const uint8_t *buf, size_t len);

#endif
