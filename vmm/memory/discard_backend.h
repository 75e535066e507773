/* The two discard backends behind struct discard_ops; discard_engine.c picks
 * one. Threads: main loop only. Private to vmm/memory/discard_*.c. */
#ifndef VMM_DISCARD_BACKEND_H
#define VMM_DISCARD_BACKEND_H

#include <core/discard.h>

#include <stdint.h>

/* Synchronous: madvise/fallocate inside submit(), done() called there. */
struct discard_sync;
extern const struct discard_ops discard_sync_ops;
int discard_sync_create(struct discard_sync **out, discard_done_fn done);
void discard_sync_destroy(struct discard_sync *s);
void discard_sync_stats(const struct discard_sync *s, struct discard_stats *out);

/* io_uring: IORING_OP_MADVISE / IORING_OP_FALLOCATE, completions signalled
 * on an eventfd; batches of at most inline_max_bytes run inline. */
struct discard_uring;
struct discard_uring_opts {
	unsigned entries;
	unsigned workers; /* io-wq threads at most; 0: kernel default */
	uint64_t inline_max_bytes;
	uint64_t chunk_bytes;
};
extern const struct discard_ops discard_uring_ops;
/* -ENOSYS, -EPERM, -EOPNOTSUPP (opcodes missing), ... when unusable. */
int discard_uring_create(struct discard_uring **out,
			 const struct discard_uring_opts *opts,
			 discard_done_fn done);
/* Submits what is queued and waits until every op completed and every
 * done() ran. Not from inside done(). 0 or -errno. */
int discard_uring_drain(struct discard_uring *u);
void discard_uring_destroy(struct discard_uring *u);
void discard_uring_stats(const struct discard_uring *u,
			 struct discard_stats *out);

#endif
