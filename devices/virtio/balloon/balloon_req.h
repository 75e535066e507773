/* Requests waiting for the discard engine (balloon_req.c). A request's used
 * entry is written when its last discard completed; what else its handler
 * wants done then travels with it (balloon_req.on_complete). Private to
 * devices/virtio/balloon/. Lock held. */
#ifndef DEVICES_VIRTIO_BALLOON_REQ_H
#define DEVICES_VIRTIO_BALLOON_REQ_H

#include <devices/balloon.h>

/* A free slot for the chain head of queue q, or NULL when all are taken
 * (process_queue keeps one free). */
struct balloon_req *balloon_req_get(struct balloon *b, unsigned q,
				    enum balloon_queue_role role,
				    uint16_t head);
/* Queues every range under req (unpinning first with pinned memory, except
 * for reports), submits, and completes req when nothing was queued. The
 * request may be finished before this returns. */
void balloon_req_discard(struct balloon *b, struct balloon_req *req,
			 const struct balloon_range *r, unsigned n);
/* Forgets all requests: their completions will not touch a queue. */
void balloon_req_orphan_all(struct balloon *b);
/* Parks a deflate chain until every live inflate issued before it finished;
 * false when none is pending (use the chain now). */
bool balloon_req_defer_deflate(struct balloon *b, unsigned q, uint16_t head);

#endif
