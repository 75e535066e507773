/* Which hinted pages a reclaim may discard: bitmaps of 4 KiB pages, one
 * u64 word per 64 pages (KVM's dirty log layout on x86-64), no KVM.
 * Threads: pure functions on the caller's bitmaps. */
#ifndef VMM_RECLAIM_BITS_H
#define VMM_RECLAIM_BITS_H

#include <stddef.h>
#include <stdint.h>

struct reclaim_counts {
	uint64_t hinted;   /* pages hinted in the run */
	uint64_t dirty;    /* hinted but written since the run began */
	uint64_t device;   /* hinted, clean, but in a range the VMM writes */
	uint64_t discard;  /* hinted, clean, not device-written: discarded */
};

/* hinted &= ~dirty & ~device over nr_pages (bits past nr_pages ignored and
 * cleared), counting what each rule removed into *c (added to). dirty and
 * device may be NULL. */
void reclaim_bits_select(uint64_t *hinted, const uint64_t *dirty,
			 const uint64_t *device, uint64_t nr_pages,
			 struct reclaim_counts *c);
/* Sets the bit of every page overlapping the byte range [start, start+len)
 * (relative to the bitmap's first page), clipped to nr_pages. */
void reclaim_bits_set_bytes(uint64_t *bits, uint64_t nr_pages, uint64_t start,
			    uint64_t len);
/* The next run of set bits at or after *pos: 1 with [*first, *first+*n),
 * *pos moved past it; 0 when none is left. */
int reclaim_bits_next_run(const uint64_t *bits, uint64_t nr_pages,
			  uint64_t *pos, uint64_t *first, uint64_t *n);

#endif
