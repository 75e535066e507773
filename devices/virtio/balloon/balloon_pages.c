/* inflateq and deflateq: arrays of little-endian 32-bit PFNs in 4 KiB units
 * (5.5.6). PFNs outside guest RAM are skipped and counted; the rest are
 * sorted and coalesced. Inflated ranges are discarded before the chain is
 * used. In hugetlb regions a 2 MiB page is discarded only once all its 4 KiB
 * pages are in the balloon (devices/hugepage_tracker.h). With pinned memory,
 * inflated ranges are unpinned before their discard and deflated ones pinned
 * again before the deflate's used entry lets the guest touch them. */
#include "balloon_handlers.h"

#include "balloon_pin.h"
#include "balloon_queue.h"
#include "balloon_ranges.h"
#include "balloon_req.h"

#include <core/checked.h>
#include <core/log.h>

#include <endian.h>
#include <string.h>

/* Copies the PFN array out of the chain (the guest may change it under us)
 * and turns it into coalesced ranges in b->range_buf. Returns the number of
 * ranges, or -1 for a malformed request. */
static int pfns_to_ranges(struct balloon *b, unsigned q,
			  const struct virtq_chain *chain)
{
	uint32_t bytes = chain->read_bytes;

	if (bytes % sizeof(uint32_t) ||
	    bytes > BALLOON_MAX_PFNS * sizeof(uint32_t)) {
		log_ratelimited(LOG_WARN,
				"balloon: PFN array of %u bytes on queue %u "
				"(must be a multiple of 4, at most %zu)",
				bytes, q, BALLOON_MAX_PFNS * sizeof(uint32_t));
		return -1;
	}
	if (bytes == 0)
		return 0;
	if (virtq_chain_read(&b->queues[q], chain, 0, b->pfn_buf, bytes) !=
	    (int)bytes)
		return -1;

	unsigned npfns = bytes / sizeof(uint32_t), n = 0;
	const struct gmem_region *last = NULL;
	for (unsigned i = 0; i < npfns; i++) {
		uint64_t gpa = (uint64_t)le32toh(b->pfn_buf[i])
			       << BALLOON_PAGE_SHIFT;
		/* Consecutive PFNs usually share a region: skip the lookup. */
		if (!last ||
		    !range_within(gpa, GMEM_PAGE_SIZE, last->gpa, last->len))
			last = gmem_region_of(b->mem, gpa, GMEM_PAGE_SIZE);
		if (!last) {
			b->m.invalid_pfns++;
			log_ratelimited(LOG_WARN,
					"balloon: pfn 0x%llx outside guest RAM",
					(unsigned long long)(gpa >>
							     BALLOON_PAGE_SHIFT));
			continue;
		}
		b->range_buf[n++] = (struct balloon_range){
			.region = last, .gpa = gpa, .len = GMEM_PAGE_SIZE,
		};
	}
	return (int)balloon_ranges_coalesce(b->range_buf, n);
}

/* The hugepage tracker of region, or NULL when it is not hugetlb. */
static struct hugepage_tracker *tracker_of(struct balloon *b,
					   const struct gmem_region *region)
{
	if (!b->mem || region < b->mem->regions ||
	    region >= b->mem->regions + b->mem->nr_regions)
		return NULL;
	struct hugepage_tracker *t = &b->hp[region - b->mem->regions];
	return t->len ? t : NULL;
}

int balloon_pages_activate(struct balloon *b, const struct gmem *mem)
{
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++) {
		const struct gmem_region *r =
			i < mem->nr_regions ? &mem->regions[i] : NULL;
		bool huge = r && r->backend == GMEM_HUGETLB_2M;
		if (huge && b->hp[i].len == r->len)
			continue;
		hugepage_tracker_destroy(&b->hp[i]);
		if (!huge)
			continue;
		int err = hugepage_tracker_init(&b->hp[i], r->len);
		if (err) {
			/* At DRIVER_OK, which the guest can repeat. */
			log_ratelimited(LOG_WARN,
					"balloon: hugepage tracker for %llu MiB: %s",
					(unsigned long long)(r->len >> 20),
					strerror(-err));
			return err;
		}
	}
	return 0;
}

void balloon_pages_reset(struct balloon *b)
{
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		hugepage_tracker_clear(&b->hp[i]);
	if (!b->cfg.pin.ops || !b->unpinned || !b->mem)
		return;
	for (unsigned i = 0; i < b->mem->nr_regions; i++)
		balloon_pin_range(b, &b->mem->regions[i], 0,
				  b->mem->regions[i].len);
	b->unpinned = false;
}

void balloon_pages_destroy(struct balloon *b)
{
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		hugepage_tracker_destroy(&b->hp[i]);
}

struct hp_ctx {
	struct balloon *b;
	const struct gmem_region *region;
	unsigned n;
};

static void hp_push(struct hp_ctx *c, const struct balloon_range *r)
{
	/* Each output holds a page of the request: n <= its PFN count. */
	if (c->n < BALLOON_MAX_PFNS)
		c->b->hp_buf[c->n++] = *r;
}

static void hp_full(void *opaque, uint64_t offset, uint64_t len)
{
	struct hp_ctx *c = opaque;
	c->b->m.hugepages_discarded += len / HUGEPAGE_TRACKER_HUGE_SIZE;
	hp_push(c, &(struct balloon_range){
			   .region = c->region,
			   .gpa = c->region->gpa + offset,
			   .len = len,
		   });
}

/* Fills b->hp_buf with what the inflated ranges let us discard: ranges of
 * other backends as they are, whole hugepages for hugetlb regions. */
static unsigned track_inflate(struct balloon *b, const struct balloon_range *r,
			      unsigned n)
{
	/* Without MUST_TELL_HOST the guest may reuse ballooned pages silently
	 * (seed 000): completing a hugepage later would punch pages in use. */
	bool tells = atomic_load(&b->features) &
		     BALLOON_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST);
	struct hp_ctx c = {.b = b};
	for (unsigned i = 0; i < n; i++) {
		struct hugepage_tracker *t = tracker_of(b, r[i].region);
		if (!t) {
			hp_push(&c, &r[i]);
			continue;
		}
		if (!tells) {
			b->m.silent_hugepage_bytes += r[i].len;
			continue;
		}
		c.region = r[i].region;
		hugepage_tracker_inflate(t, r[i].gpa - r[i].region->gpa,
					 r[i].len, hp_full, &c);
	}
	return c.n;
}

static void hp_repin(void *opaque, uint64_t offset, uint64_t len)
{
	struct hp_ctx *c = opaque;
	balloon_pin_range(c->b, c->region, offset, len);
}

/* Runs before the deflate's used entry: the guest may touch the pages as
 * soon as it sees it (MUST_TELL_HOST, 5.5.6.1). */
static void deflate_ranges(struct balloon *b, const struct balloon_range *r,
			   unsigned n)
{
	bool pinned = b->cfg.pin.ops != NULL;
	for (unsigned i = 0; i < n; i++) {
		uint64_t off = r[i].gpa - r[i].region->gpa;
		struct hugepage_tracker *t = tracker_of(b, r[i].region);
		if (t) {
			/* Only discarded hugepages were unpinned. */
			struct hp_ctx c = {.b = b, .region = r[i].region};
			hugepage_tracker_deflate(t, off, r[i].len,
						 pinned ? hp_repin : NULL, &c);
		} else if (pinned) {
			balloon_pin_range(b, r[i].region, off, r[i].len);
		}
	}
}

void balloon_pages_chain(struct balloon *b, unsigned q,
			 enum balloon_queue_role role,
			 const struct virtq_chain *chain)
{
	bool inflate = role == BALLOON_Q_INFLATE;
	int n = pfns_to_ranges(b, q, chain);

	if (inflate)
		b->m.inflate_requests++;
	else
		b->m.deflate_requests++;
	if (n < 0) {
		/* Nothing discarded: the pages stay the guest's. */
		b->m.malformed_requests++;
		balloon_complete(b, q, chain->head);
		return;
	}
	uint64_t pages = balloon_ranges_bytes(b->range_buf, (unsigned)n) /
			 GMEM_PAGE_SIZE;
	if (!inflate) {
		b->m.deflated_pages += pages;
		/* Pinned before a possible parking below: an inflate of the
		 * same page still discarding then fails on the locked range
		 * (anonymous) or leaves it to fault in locked (memfd). */
		deflate_ranges(b, b->range_buf, (unsigned)n);
		/* A deflate must not overtake an inflate still discarding:
		 * its pages could be zeroed after the guest took them back. */
		if (!balloon_req_defer_deflate(b, q, chain->head))
			balloon_complete(b, q, chain->head);
		return;
	}
	b->m.inflated_pages += pages;
	struct balloon_req *req = balloon_req_get(b, q, role, chain->head);
	if (!req) {
		/* process_queue keeps a slot free; never leak a chain. */
		balloon_complete(b, q, chain->head);
		return;
	}
	req->seq = ++b->inflate_seq;
	if (inhibit_active(&b->inhibit)) {
		/* Acknowledged only: not tracked either, so a hugepage never
		 * completes with pages taken while inhibited. */
		balloon_req_discard(b, req, b->range_buf, (unsigned)n);
		return;
	}
	unsigned m = track_inflate(b, b->range_buf, (unsigned)n);
	balloon_req_discard(b, req, b->hp_buf, m);
}
