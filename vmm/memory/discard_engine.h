/* The discard engine: builds the struct discard that devices are handed,
 * choosing the io_uring backend when the kernel offers it and the
 * synchronous one otherwise (ENOSYS, EPERM, kernel.io_uring_disabled,
 * missing opcodes). Both give identical results.
 *
 * Threads: main loop only. Add discard_engine_eventfd() to the epoll loop
 * and call iface->ops->reap(iface->be) when it is readable. */
#ifndef VMM_DISCARD_ENGINE_H
#define VMM_DISCARD_ENGINE_H

#include <core/discard.h>

#include <stdint.h>

enum discard_engine_kind {
	DISCARD_ENGINE_AUTO,  /* io_uring if usable, else sync */
	DISCARD_ENGINE_URING, /* io_uring or fail */
	DISCARD_ENGINE_SYNC,
};

struct discard_engine_opts {
	enum discard_engine_kind kind;
	/* io_uring only: batches of at most this many bytes (after merging)
	 * run inline in submit(); 0 sends every batch to the ring. */
	uint64_t inline_max_bytes;
	/* io_uring only: largest single op (rounded to 2 MiB, at most 1 GiB). */
	uint64_t chunk_bytes;
	unsigned ring_entries;
	/* io_uring only: io-wq worker threads at most (they compete with the
	 * main loop and vCPUs for CPUs); 0: the kernel's default. */
	unsigned ring_workers;
};

struct discard_engine;

/* The measured defaults (see discard_engine.c). */
void discard_engine_default_opts(struct discard_engine_opts *opts);
/* opts may be NULL for the defaults. done runs once per cookie, on the main
 * loop, after all of the cookie's ranges finished. 0 or -errno. */
int discard_engine_create(struct discard_engine **out,
			  const struct discard_engine_opts *opts,
			  discard_done_fn done);
/* Submits what is queued and waits for every discard in flight, running
 * their done() callbacks (shutdown). Not from inside done(). */
int discard_engine_drain(struct discard_engine *e);
/* Drains, then frees. */
void discard_engine_destroy(struct discard_engine *e);

/* What devices are handed. Valid until destroy. */
struct discard *discard_engine_iface(struct discard_engine *e);
/* -1 for the synchronous backend. */
int discard_engine_eventfd(const struct discard_engine *e);
/* "io_uring" or "sync". */
const char *discard_engine_name(const struct discard_engine *e);
void discard_engine_stats(const struct discard_engine *e,
			  struct discard_stats *out);

#endif
