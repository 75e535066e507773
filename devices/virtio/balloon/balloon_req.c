/* Requests waiting for the discard engine. The used-ring entry of a request
 * is written from the engine's done callback, after every range of the
 * request completed: the guest reuses the pages once it sees the entry, and
 * a discard after that would zero its data. A request that outlives a reset
 * or a new DRIVER_OK is orphaned: its completion frees the slot and touches
 * no queue. */
#include "balloon_req.h"

#include "balloon_pin.h"
#include "balloon_queue.h"
#include "balloon_ranges.h"

#include <core/clock.h>
#include <core/log.h>

#include <errno.h>
#include <string.h>

struct balloon_req *balloon_req_get(struct balloon *b, unsigned q,
				    enum balloon_queue_role role,
				    uint16_t head)
{
	for (unsigned i = 0; i < BALLOON_MAX_INFLIGHT; i++) {
		struct balloon_req *req = &b->reqs[i];
		if (req->busy)
			continue;
		*req = (struct balloon_req){
			.b = b, .gen = b->gen, .head = head, .q = (uint8_t)q,
			.role = (uint8_t)role, .busy = true,
			.t_pop_ns = clock_now_ns(),
		};
		b->inflight++;
		return req;
	}
	return NULL;
}

static void release_deflates(struct balloon *b);

static void req_finish(struct balloon_req *req)
{
	struct balloon *b = req->b;
	bool live = req->gen == b->gen && b->active && !b->broken;

	if (live) {
		if (req->on_complete)
			req->on_complete(b, req);
		balloon_complete(b, req->q, req->head);
	}
	req->busy = false;
	b->inflight--;
	if (live && req->role == BALLOON_Q_INFLATE)
		release_deflates(b);
	/* A queue stopped for lack of slots goes on from the main loop. */
	if (live && b->pending)
		balloon_wake_pending(b);
}

void balloon_req_discard(struct balloon *b, struct balloon_req *req,
			 const struct balloon_range *r, unsigned n)
{
	const struct discard_ops *ops = b->discard.ops;
	bool report = req->role == BALLOON_Q_REPORTING;
	unsigned queued = 0;

	if (inhibit_active(&b->inhibit)) {
		/* Acknowledged without effect: the pages stay populated. */
		b->m.inhibited_bytes += balloon_ranges_bytes(r, n);
		ops = NULL;
	}
	for (unsigned i = 0; ops && i < n; i++) {
		/* Locked pages cannot be discarded (MADV_DONTNEED refuses
		 * VM_LOCKED); reports never get here with pinned memory. */
		if (!report && b->cfg.pin.ops &&
		    balloon_unpin_range(b, &r[i]) < 0)
			continue;
		int err = ops->queue(b->discard.be, r[i].region,
				     r[i].gpa - r[i].region->gpa, r[i].len, req);
		if (err < 0) {
			/* The range stays populated: safe, just not reclaimed. */
			b->m.discard_errors++;
			log_ratelimited(LOG_WARN,
					"balloon: queueing discard of gpa 0x%llx "
					"len 0x%llx: %s",
					(unsigned long long)r[i].gpa,
					(unsigned long long)r[i].len,
					strerror(-err));
			continue;
		}
		queued++;
		req->bytes += r[i].len;
		if (report) {
			b->m.report_ranges++;
			b->m.report_bytes += r[i].len;
		} else {
			b->m.discard_ranges++;
			b->m.discard_bytes += r[i].len;
		}
	}
	if (queued == 0) {
		req_finish(req);
		return;
	}
	/* The backend falls back to synchronous discards itself and still
	 * calls done once per cookie; done may run inside submit. */
	b->discarding++;
	int err = ops->submit(b->discard.be);
	if (err < 0)
		log_ratelimited(LOG_WARN, "balloon: discard submit: %s",
				strerror(-err));
}

void balloon_req_orphan_all(struct balloon *b)
{
	for (unsigned i = 0; i < BALLOON_MAX_INFLIGHT; i++)
		if (b->reqs[i].busy && b->reqs[i].gen == b->gen)
			b->m.orphaned_requests++;
}

static bool req_live(const struct balloon *b, const struct balloon_req *req)
{
	return req->busy && req->gen == b->gen;
}

/* Oldest live inflate still discarding, or UINT64_MAX. */
static uint64_t oldest_inflate(const struct balloon *b)
{
	uint64_t min = UINT64_MAX;
	for (unsigned i = 0; i < BALLOON_MAX_INFLIGHT; i++) {
		const struct balloon_req *r = &b->reqs[i];
		if (req_live(b, r) && r->role == BALLOON_Q_INFLATE &&
		    r->seq < min)
			min = r->seq;
	}
	return min;
}

bool balloon_req_defer_deflate(struct balloon *b, unsigned q, uint16_t head)
{
	if (oldest_inflate(b) > b->inflate_seq)
		return false;
	struct balloon_req *req = balloon_req_get(b, q, BALLOON_Q_DEFLATE, head);
	if (!req)
		return false; /* cannot happen: process_queue keeps a slot */
	req->seq = b->inflate_seq;
	return true;
}

/* Uses the parked deflates whose inflates have all finished. */
static void release_deflates(struct balloon *b)
{
	uint64_t oldest = oldest_inflate(b);
	for (unsigned i = 0; i < BALLOON_MAX_INFLIGHT; i++) {
		struct balloon_req *r = &b->reqs[i];
		if (req_live(b, r) && r->role == BALLOON_Q_DEFLATE &&
		    r->seq < oldest)
			req_finish(r);
	}
}

void balloon_discard_done(void *cookie, int err)
{
	struct balloon_req *req = cookie;
	struct balloon *b = req->b;
	/* Requests exist only once activated: h is never NULL here. */
	const struct virtio_host *h = balloon_host_lock(b);

	b->discarding--;
	pthread_cond_broadcast(&b->idle);
	/* Cancelled by a reset: the pages simply stay populated. */
	if (err < 0 && err != -ECANCELED) {
		b->m.discard_errors++;
		req->err = err;
		log_ratelimited(LOG_WARN, "balloon: discard failed: %s",
				strerror(-err));
	}
	req_finish(req);
	balloon_host_unlock(h);
}
