/* Discard batches: what both discard backends share. Ranges queued between
 * two submits form a batch; submit sorts them, merges adjacent/overlapping
 * ranges of one region into runs, splits runs into ops of at most a chunk,
 * and counts each cookie's ranges so its done() runs exactly once, after the
 * last run holding one of its ranges finished.
 * Threads: main loop only. Private to vmm/memory/discard_*.c. */
#ifndef VMM_DISCARD_BATCH_H
#define VMM_DISCARD_BATCH_H

#include <core/discard.h>
#include <core/gmem.h>

#include <stdbool.h>
#include <stdint.h>

#define DISCARD_HUGEPAGE_SIZE (2ULL << 20)
/* Caps one batch; the balloon submits far fewer (256 PFNs per request). */
#define DISCARD_BATCH_MAX_RANGES (1U << 20)

struct discard_batch;

struct discard_range {
	const struct gmem_region *region;
	uint64_t offset, len;
	uint32_t cookie; /* index into batch->cookies */
};

struct discard_cookie {
	void *cookie;
	uint32_t pending; /* ranges not yet finished */
	int err;
};

/* Merged extent covering sorted ranges [first, last]. */
struct discard_run {
	uint32_t first, last;
	uint64_t start, end; /* region offsets */
	uint32_t pending; /* ops not yet finished */
	int err;
};

/* One syscall or SQE: a piece of one run. */
struct discard_op {
	struct discard_batch *batch;
	const struct gmem_region *region;
	uint64_t offset, len;
	uint32_t run;
};

struct discard_batch {
	struct discard_batch *next; /* backend's FIFO */
	struct discard_range *ranges;
	uint32_t nr_ranges, cap_ranges;
	struct discard_cookie *cookies;
	uint32_t nr_cookies, cap_cookies;
	struct discard_run *runs;
	uint32_t nr_runs;
	struct discard_op *ops;
	uint32_t nr_ops;
	uint32_t next_op;  /* first op not handed to the kernel yet */
	uint32_t ops_left; /* ops not finished yet */
	uint64_t bytes;    /* after merging */
};

/* 0 if [offset, offset+len) of region can be discarded: page aligned,
 * inside the region, whole 2 MiB pages for hugetlb; else -EINVAL. */
int discard_batch_check(const struct gmem_region *region, uint64_t offset,
			uint64_t len);
/* The synchronous discard: madvise or punch hole. 0 or -errno. */
int discard_batch_exec_sync(const struct gmem_region *region, uint64_t offset,
			    uint64_t len);

/* Validates and appends a range to *open (allocated on first use), counted
 * in st->ranges, or a refusal in st->rejected: every backend's queue().
 * 0, -EINVAL (nothing queued), -ENOMEM or -ENOSPC. */
int discard_batch_add(struct discard_batch **open,
		      const struct gmem_region *region, uint64_t offset,
		      uint64_t len, void *cookie, struct discard_stats *st);
/* Sorts, merges and splits into ops of at most chunk_bytes (rounded up
 * to 2 MiB). Adds merged bytes to st. 0, -ENOMEM or -ENOSPC; a batch that
 * failed to plan can still be run inline. */
int discard_batch_plan(struct discard_batch *b, uint64_t chunk_bytes,
		       struct discard_stats *st);
/* Records op's result and calls done() for every cookie it finished.
 * done may queue and submit new batches. True when b's last op finished
 * (the caller frees b). */
bool discard_batch_op_done(struct discard_op *op, int err,
			   discard_done_fn done);
/* Runs every op of a fresh batch inline (range by range when planning
 * failed), then frees b. */
void discard_batch_run_inline(struct discard_batch *b, discard_done_fn done,
			      struct discard_stats *st);
/* Drops the ops of b not handed to the kernel yet as if they failed with
 * -ECANCELED (every cookie of a batch never planned), calling done() for
 * the cookies that finishes; counted in st->cancelled. True when no op of b
 * is left in flight (the caller frees b). */
bool discard_batch_cancel(struct discard_batch *b, discard_done_fn done,
			  struct discard_stats *st);
void discard_batch_free(struct discard_batch *b);

#endif
