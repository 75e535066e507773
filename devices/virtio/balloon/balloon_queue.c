/* The queue helpers every balloon handler uses. Nothing here calls a
 * handler or balloon.c: the dispatcher and the handlers call down. */
#include "balloon_queue.h"

#include <core/log.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

uint64_t balloon_features_offered(const struct balloon_config *cfg)
{
	uint64_t f = BALLOON_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST) |
		     BALLOON_BIT(VIRTIO_BALLOON_F_STATS_VQ);
	if (cfg->deflate_on_oom)
		f |= BALLOON_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	/* Linux drops REPORTING when it poisons or zeroes freed pages and the
	 * device lacks PAGE_POISON (virtballoon_validate), so offer both. */
	if (cfg->free_page_reporting && !cfg->pin.ops)
		f |= BALLOON_BIT(VIRTIO_BALLOON_F_REPORTING) |
		     BALLOON_BIT(VIRTIO_BALLOON_F_PAGE_POISON);
	if (cfg->free_page_hinting)
		f |= BALLOON_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	return f;
}

int balloon_queue_index(uint64_t features, enum balloon_queue_role role)
{
	/* Optional queues are numbered compactly by what was negotiated, as
	 * Linux's virtio_find_vqs() skips unnamed queues (5.5.2). */
	static const int feature_of[BALLOON_Q_NR] = {
		[BALLOON_Q_INFLATE] = -1,
		[BALLOON_Q_DEFLATE] = -1,
		[BALLOON_Q_STATS] = VIRTIO_BALLOON_F_STATS_VQ,
		[BALLOON_Q_FREE_PAGE] = VIRTIO_BALLOON_F_FREE_PAGE_HINT,
		[BALLOON_Q_REPORTING] = VIRTIO_BALLOON_F_REPORTING,
	};
	if ((unsigned)role >= BALLOON_Q_NR)
		return -1;
	int idx = 0;
	for (int r = 0; r <= (int)role; r++) {
		bool present = feature_of[r] < 0 ||
			       (features & BALLOON_BIT(feature_of[r]));
		if (r == (int)role)
			return present ? idx : -1;
		idx += present;
	}
	return -1;
}

int balloon_queue_role(uint64_t features, unsigned q)
{
	for (int r = 0; r < BALLOON_Q_NR; r++)
		if (balloon_queue_index(features, r) == (int)q)
			return r;
	return -1;
}

const struct virtio_host *balloon_host_lock(struct balloon *b)
{
	const struct virtio_host *h = atomic_load(&b->host);
	if (h)
		h->lock(h->t);
	return h;
}

void balloon_host_unlock(const struct virtio_host *h)
{
	if (h)
		h->unlock(h->t);
}

void balloon_complete(struct balloon *b, unsigned q, uint16_t head)
{
	struct virtq *vq = &b->queues[q];
	if (virtq_push_used(vq, head, 0) < 0) {
		balloon_fail(b, "balloon: cannot write used ring");
		return;
	}
	const struct virtio_host *h = atomic_load(&b->host);
	if (virtq_needs_notify(vq))
		h->notify_queue(h->t, q);
}

void balloon_fail(struct balloon *b, const char *why)
{
	const struct virtio_host *h = atomic_load(&b->host);
	b->broken = true;
	log_ratelimited(LOG_WARN, "%s", why);
	if (h)
		h->needs_reset(h->t, why);
}

void balloon_wake_pending(struct balloon *b)
{
	uint64_t one = 1;
	/* A full eventfd counter still reads as readable: ignore EAGAIN. */
	if (write(b->pending_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "balloon: pending eventfd: %s",
				strerror(errno));
}

void balloon_defer(struct balloon *b, unsigned q)
{
	b->pending |= 1u << q;
	b->m.deferred_runs++;
	balloon_wake_pending(b);
}
