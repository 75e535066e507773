/* What every balloon handler shares, in a file that calls no handler back:
 * the offered features and the queue numbering they imply, the transport's
 * lock, and the end of a chain's life (complete, fail, defer). Private to
 * devices/virtio/balloon/. Lock held unless said otherwise. */
#ifndef DEVICES_VIRTIO_BALLOON_QUEUE_H
#define DEVICES_VIRTIO_BALLOON_QUEUE_H

#include <devices/balloon.h>

#include <linux/virtio_balloon.h>

#ifndef VIRTIO_BALLOON_F_REPORTING
#define VIRTIO_BALLOON_F_REPORTING 5
#endif

#define BALLOON_BIT(f) (1ULL << (f))

/* The device features a balloon made with cfg offers. Any thread. */
uint64_t balloon_features_offered(const struct balloon_config *cfg);
/* The role of queue index q under features, or -1 if it has none. */
int balloon_queue_role(uint64_t features, unsigned q);

/* For entry points outside the transport's callbacks: takes the transport's
 * lock (virtio_host.lock) once the device was activated; returns what
 * balloon_host_unlock needs (NULL before, when nothing was locked). */
const struct virtio_host *balloon_host_lock(struct balloon *b);
void balloon_host_unlock(const struct virtio_host *h);

/* Used entry for head on queue q (len 0: the balloon writes nothing), then
 * an interrupt if the driver wants one. */
void balloon_complete(struct balloon *b, unsigned q, uint16_t head);
/* A malformed ring or chain: stop using the device until reset. */
void balloon_fail(struct balloon *b, const char *why);
/* Marks queue q to be run again from balloon_run_pending. */
void balloon_defer(struct balloon *b, unsigned q);
/* Makes balloon_pending_fd readable: the main loop then runs the queues
 * marked in b->pending. */
void balloon_wake_pending(struct balloon *b);

#endif
