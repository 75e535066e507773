/* The discard interface: how devices give guest memory back to the host.
 * Backends (io_uring, synchronous) live in vmm/; devices see only this table.
 *
 * Contract (the safety rule of the balloon): a request's completion callback
 * runs only after every range queued under its cookie has been discarded (or
 * failed). Devices write the used-ring entry from that callback, never before.
 * Threads: main loop only. */
#ifndef CORE_DISCARD_H
#define CORE_DISCARD_H

#include <stdint.h>

struct gmem_region;

/* Called once per cookie when all its ranges completed; err is 0 or the first
 * -errno seen. */
typedef void (*discard_done_fn)(void *cookie, int err);

struct discard_ops {
	/* Queues discarding [offset, offset+len) of region (offsets relative to
	 * the region start, page aligned). Nothing happens before submit. */
	int (*queue)(void *be, const struct gmem_region *region,
		     uint64_t offset, uint64_t len, void *cookie);
	/* Starts everything queued. The backend's done callback (given when
	 * the backend was created) runs once per cookie after all of that
	 * cookie's ranges finish; it may run inside submit (sync backend).
	 * All ranges of one cookie are queued before one submit. */
	int (*submit)(void *be);
	/* Reaps completions (call when eventfd is readable). */
	int (*reap)(void *be);
	/* eventfd that becomes readable when completions are ready; -1 if
	 * the backend completes synchronously. */
	int (*eventfd)(void *be);
	/* Drops every range not yet handed to the kernel (queued, or waiting
	 * for room in the ring): a cookie whose ranges were all dropped or
	 * finished gets done(cookie, -ECANCELED) (or its first real error).
	 * Ranges the kernel has complete as usual, later. NULL: nothing is
	 * ever held back. */
	int (*cancel)(void *be);
};

struct discard {
	const struct discard_ops *ops;
	void *be;
};

struct discard_stats {
	uint64_t ranges;    /* accepted by queue() */
	uint64_t bytes;     /* discarded, after merging overlaps */
	uint64_t uring_ops;
	uint64_t sync_ops;  /* inline syscalls, fallbacks included */
	uint64_t errors;    /* discards that failed, fallback included */
	uint64_t fallbacks; /* ring ops redone synchronously */
	uint64_t rejected;  /* queue() calls refused (-EINVAL, ...) */
	uint64_t cancelled; /* ops dropped by cancel() before they ran */
};

#endif
