/* inflateq and deflateq: arrays of little-endian 32-bit PFNs in 4 KiB units
 * (5.5.6). PFNs outside guest RAM are skipped and counted; the rest are
 * sorted and coalesced. Inflated ranges are discarded before the chain is
 * used; deflated pages need nothing while guest memory is not pinned. */
#include "balloon_priv.h"

#include <core/checked.h>
#include <core/log.h>

#include <endian.h>

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

/* mem_lock (a later issue) re-pins deflated ranges here, before the used
 * entry lets a MUST_TELL_HOST guest touch them. Nothing to do for memory
 * that is not pinned. */
static void deflate_ranges(struct balloon *b, const struct balloon_range *r,
			   unsigned n)
{
	(void)b;
	(void)r;
	(void)n;
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
	balloon_req_discard(b, req, b->range_buf, (unsigned)n);
}
