/* reporting_vq (5.5.6.5): each chain is a scatter list of free guest ranges
 * (Linux's page_reporting adds them as device-writable buffers of order >=
 * pageblock_order). Valid ranges are discarded and the chain is used only
 * after every discard completed, because the guest reuses the pages as soon
 * as it sees the used entry. With PAGE_POISON and a non-zero poison_val the
 * pages must keep that value, so they are left alone. */
#include "balloon_handlers.h"

#include "balloon_queue.h"
#include "balloon_ranges.h"
#include "balloon_req.h"

#include <core/checked.h>
#include <core/clock.h>
#include <core/log.h>

static void report_latency(struct balloon *b, uint64_t t_pop_ns)
{
	uint64_t now = clock_now_ns();
	uint64_t dt = now > t_pop_ns ? now - t_pop_ns : 0;
	b->m.report_latency_total_ns += dt;
	b->m.report_latency_max_ns = MAX(b->m.report_latency_max_ns, dt);
}

/* The request's discards are done: the guest may reuse the pages now. */
static void report_completed(struct balloon *b, const struct balloon_req *req)
{
	report_latency(b, req->t_pop_ns);
}

void balloon_report_chain(struct balloon *b, unsigned q,
			  const struct virtq_chain *chain)
{
	uint64_t t_pop = clock_now_ns();
	uint64_t f = atomic_load(&b->features);
	bool poisoned = (f & BALLOON_BIT(VIRTIO_BALLOON_F_PAGE_POISON)) &&
			b->poison_val != 0;
	unsigned nsegs = MIN(chain->nr_segs, (unsigned)VIRTQ_CHAIN_MAX);
	unsigned n = 0;

	b->m.reports++;
	for (unsigned i = 0; i < nsegs; i++) {
		const struct virtq_seg *s = &chain->segs[i];
		const struct gmem_region *region =
			balloon_ranges_region_of(b->mem, s->gpa, s->len);
		if (!region) {
			b->m.invalid_report_ranges++;
			log_ratelimited(LOG_WARN,
					"balloon: reported range gpa 0x%llx "
					"len 0x%x is not whole pages of guest "
					"RAM",
					(unsigned long long)s->gpa, s->len);
			continue;
		}
		b->range_buf[n++] = (struct balloon_range){
			.region = region, .gpa = s->gpa, .len = s->len,
		};
	}
	n = balloon_ranges_coalesce(b->range_buf, n);

	if (poisoned || n == 0) {
		/* A discarded page reads back zero, not poison_val. */
		if (poisoned)
			b->m.report_poison_skipped_bytes +=
				balloon_ranges_bytes(b->range_buf, n);
		report_latency(b, t_pop);
		balloon_complete(b, q, chain->head);
		return;
	}
	struct balloon_req *req =
		balloon_req_get(b, q, BALLOON_Q_REPORTING, chain->head);
	if (!req) {
		balloon_complete(b, q, chain->head);
		return;
	}
	req->t_pop_ns = t_pop;
	req->on_complete = report_completed;
	balloon_req_discard(b, req, b->range_buf, n);
}
