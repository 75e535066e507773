/* The handlers balloon.c dispatches to: one file per queue's job, each with
 * its part of the device's lifecycle. They call down (balloon_req.h,
 * balloon_queue.h, balloon_ranges.h, balloon_pin.h), never back into
 * balloon.c or into each other. Private to devices/virtio/balloon/. Lock
 * held. */
#ifndef DEVICES_VIRTIO_BALLOON_HANDLERS_H
#define DEVICES_VIRTIO_BALLOON_HANDLERS_H

#include <devices/balloon.h>

/* balloon_pages.c: one inflateq/deflateq chain. */
void balloon_pages_chain(struct balloon *b, unsigned q,
			 enum balloon_queue_role role,
			 const struct virtq_chain *chain);
/* Sets up the hugepage trackers for mem's hugetlb regions. 0 or -ENOMEM. */
int balloon_pages_activate(struct balloon *b, const struct gmem *mem);
/* Device reset: forgets ballooned pages and, with pinned memory, pins all
 * guest RAM again (the guest may use any page without a deflate now). */
void balloon_pages_reset(struct balloon *b);
void balloon_pages_destroy(struct balloon *b);

/* balloon_stats.c: the statsq buffer (held until the next tick). */
void balloon_stats_chain(struct balloon *b, unsigned q,
			 const struct virtq_chain *chain);
void balloon_stats_reset(struct balloon *b);

/* balloon_report.c: one reporting_vq chain. */
void balloon_report_chain(struct balloon *b, unsigned q,
			  const struct virtq_chain *chain);

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
