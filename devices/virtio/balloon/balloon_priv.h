/* Private to devices/virtio/balloon*.c. All functions here run on the main
 * loop with the transport's lock held. */
#ifndef DEVICES_VIRTIO_BALLOON_PRIV_H
#define DEVICES_VIRTIO_BALLOON_PRIV_H

#include <devices/balloon.h>

#include <linux/virtio_balloon.h>

#ifndef VIRTIO_BALLOON_F_REPORTING
#define VIRTIO_BALLOON_F_REPORTING 5
#endif

#define BALLOON_BIT(f) (1ULL << (f))

/* balloon.c */
/* For entry points outside the transport's callbacks: takes the transport's
 * lock once activated; returns what balloon_unlock needs (NULL before). */
const struct virtio_host *balloon_lock(struct balloon *b);
void balloon_unlock(const struct virtio_host *h);
/* Used entry for head on queue q (len 0: the balloon writes nothing), then
 * an interrupt if the driver wants one. */
void balloon_complete(struct balloon *b, unsigned q, uint16_t head);
/* Marks queue q to be run again from balloon_run_pending. */
void balloon_defer(struct balloon *b, unsigned q);
/* A malformed ring or chain: stop using the device until reset. */
void balloon_fail(struct balloon *b, const char *why);

/* balloon_req.c: requests waiting for the discard engine. */
struct balloon_req *balloon_req_get(struct balloon *b, unsigned q,
				    enum balloon_queue_role role,
				    uint16_t head);
/* Queues every range under req, submits, and completes req when nothing
 * was queued. The request may be finished before this returns. */
void balloon_req_discard(struct balloon *b, struct balloon_req *req,
			 const struct balloon_range *r, unsigned n);
/* Forgets all requests: their completions will not touch a queue. */
void balloon_req_orphan_all(struct balloon *b);
void balloon_req_finish(struct balloon_req *req);
/* Parks a deflate chain until every live inflate issued before it finished;
 * false when none is pending (use the chain now). */
bool balloon_req_defer_deflate(struct balloon *b, unsigned q, uint16_t head);

/* balloon_ranges.c: sorts by gpa and merges overlapping or adjacent ranges
 * of the same region in place; returns the new count. */
unsigned balloon_ranges_coalesce(struct balloon_range *r, unsigned n);
uint64_t balloon_ranges_bytes(const struct balloon_range *r, unsigned n);

/* balloon_pages.c: one inflateq/deflateq chain. */
void balloon_pages_chain(struct balloon *b, unsigned q,
			 enum balloon_queue_role role,
			 const struct virtq_chain *chain);
/* Unpins one inflated range before its discard (pinned memory only).
 * 0 or -errno (counted, logged: the range must then stay). */
int balloon_unpin(struct balloon *b, const struct balloon_range *r);
/* Sets up the hugepage trackers for mem's hugetlb regions. 0 or -ENOMEM. */
int balloon_pages_activate(struct balloon *b, const struct gmem *mem);
/* Device reset: forgets ballooned pages and, with pinned memory, pins all
 * guest RAM again (the guest may use any page without a deflate now). */
void balloon_pages_reset(struct balloon *b);

/* balloon_stats.c */
void balloon_stats_chain(struct balloon *b, unsigned q,
			 const struct virtq_chain *chain);
void balloon_stats_reset(struct balloon *b);

/* balloon_report.c: one reporting_vq chain. */
void balloon_report_chain(struct balloon *b, unsigned q,
			  const struct virtq_chain *chain);
void balloon_report_done(struct balloon *b, struct balloon_req *req);

/* balloon_hint.c: one free_page_vq chain (used at once). */
void balloon_hint_chain(struct balloon *b, unsigned q,
			const struct virtq_chain *chain);
/* At DRIVER_OK (features known): forgets any run, sizes the bitmaps for
 * mem's regions when FREE_PAGE_HINT was negotiated. 0 or -ENOMEM. */
int balloon_hint_activate(struct balloon *b, const struct gmem *mem);
/* Device reset: the run and its hints are void (ids stay unique). */
void balloon_hint_reset(struct balloon *b);
void balloon_hint_destroy(struct balloon *b);

#endif
