/* Partially ballooned hugepages. A 2 MiB hugetlb page can only be given back
 * whole (punch hole of the full page), while the balloon works in 4 KiB
 * pages. The tracker keeps one bit per 4 KiB page of a region that is in the
 * balloon and reports a hugepage as discardable once all 512 of its pages
 * are; a deflate of any of them cancels that (the guest's next touch faults
 * a fresh zeroed hugepage, so nothing is left to undo on the host).
 * Invariant: a hugepage is marked discarded only while all its pages are
 * ballooned.
 *
 * Offsets are relative to the start of the tracked region, which must be
 * hugepage aligned in its backing file. Threads: none; the owner serializes
 * access. */
#ifndef DEVICES_HUGEPAGE_TRACKER_H
#define DEVICES_HUGEPAGE_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#define HUGEPAGE_TRACKER_HUGE_SIZE (2ULL << 20)
#define HUGEPAGE_TRACKER_PAGE_SIZE 4096ULL
#define HUGEPAGE_TRACKER_SUBPAGES 512u

struct hugepage_tracker {
	uint64_t len;          /* bytes tracked, whole hugepages */
	uint64_t nr_huge;
	uint64_t *ballooned;   /* one bit per 4 KiB page */
	uint16_t *count;       /* ballooned 4 KiB pages per hugepage */
	uint64_t *discarded;   /* one bit per hugepage */
	uint64_t nr_ballooned; /* 4 KiB pages */
	uint64_t nr_discarded; /* hugepages */
};

/* Called with runs of adjacent hugepages, [offset, offset + len). */
typedef void (*hugepage_tracker_fn)(void *opaque, uint64_t offset,
				    uint64_t len);

/* len: a multiple of 2 MiB. 0, -EINVAL or -ENOMEM. */
int hugepage_tracker_init(struct hugepage_tracker *t, uint64_t len);
void hugepage_tracker_destroy(struct hugepage_tracker *t);

/* Marks [offset, offset + len) ballooned (4 KiB aligned, inside the region;
 * pages already in the balloon are left as they are) and calls fn for the
 * hugepages that thereby became entirely ballooned; they now count as
 * discarded. 0, or -EINVAL (nothing changed). */
int hugepage_tracker_inflate(struct hugepage_tracker *t, uint64_t offset,
			     uint64_t len, hugepage_tracker_fn fn,
			     void *opaque);
/* Takes [offset, offset + len) out of the balloon and calls fn for the
 * discarded hugepages that thereby stop being discarded (the caller may
 * have to re-pin them). fn may be NULL. 0, or -EINVAL. */
int hugepage_tracker_deflate(struct hugepage_tracker *t, uint64_t offset,
			     uint64_t len, hugepage_tracker_fn fn,
			     void *opaque);
/* Forgets every page (device reset: the guest owns all its memory again). */
void hugepage_tracker_clear(struct hugepage_tracker *t);

#endif
