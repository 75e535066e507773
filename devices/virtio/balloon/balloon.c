/* virtio-balloon, the device: its ops table, config space, lifecycle, the
 * dispatch of queue work to the handlers (balloon_handlers.h) and the host's
 * controls. Handlers call down into balloon_queue.c, never back here. */
#include "balloon_handlers.h"
#include "balloon_queue.h"
#include "balloon_req.h"

#include <core/checked.h>
#include <core/log.h>

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---- queue work ---- */

static void process_queue(struct balloon *b, unsigned q)
{
	uint64_t features = atomic_load(&b->features);
	int role = balloon_queue_role(features, q);

	if (!b->active || b->broken || q >= b->nr_queues || role < 0 ||
	    !b->queues[q].ready)
		return;
	b->pending &= ~(1u << q);
	for (unsigned n = 0;; n++) {
		/* Page and report requests may wait for the discard engine
		 * (a deflate behind a pending inflate too): stop at the pool's
		 * size, completions resume the queue. */
		bool needs_req = role != BALLOON_Q_STATS &&
				 role != BALLOON_Q_FREE_PAGE;
		if (needs_req && b->inflight >= BALLOON_MAX_INFLIGHT) {
			b->pending |= 1u << q;
			return;
		}
		if (n == BALLOON_CHAINS_PER_RUN) {
			/* Always from the loop, even with the ring empty now:
			 * only a pop that finds it empty re-arms avail_event
			 * (event idx); without one the driver's next kick is
			 * suppressed and the queue stalls (2.7.10). */
			balloon_defer(b, q);
			return;
		}
		int ret = virtq_pop(&b->queues[q], &b->chain);
		if (ret == 0)
			return;
		if (ret < 0) {
			balloon_fail(b, "balloon: malformed virtqueue");
			return;
		}
		switch (role) {
		case BALLOON_Q_INFLATE:
		case BALLOON_Q_DEFLATE:
			balloon_pages_chain(b, q, role, &b->chain);
			break;
		case BALLOON_Q_STATS:
			balloon_stats_chain(b, q, &b->chain);
			break;
		case BALLOON_Q_FREE_PAGE:
			balloon_hint_chain(b, q, &b->chain);
			break;
		case BALLOON_Q_REPORTING:
			balloon_report_chain(b, q, &b->chain);
			break;
		default:
			balloon_complete(b, q, b->chain.head);
			break;
		}
		if (b->broken || !b->active)
			return;
	}
}

void balloon_run_pending(struct balloon *b)
{
	const struct virtio_host *h = balloon_host_lock(b);
	uint64_t cnt;
	if (read(b->pending_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "balloon: pending eventfd: %s",
				strerror(errno));
	/* A reset waits on a vCPU: the backend is ours (main loop) to cancel.
	 * Its done callbacks take the (recursive) transport lock. */
	if (b->cancel_discards) {
		b->cancel_discards = false;
		if (b->discard.ops && b->discard.ops->cancel)
			b->discard.ops->cancel(b->discard.be);
	}
	uint32_t waiting = b->pending;
	for (unsigned q = 0; q < BALLOON_Q_NR; q++)
		if (waiting & (1u << q))
			process_queue(b, q);
	balloon_host_unlock(h);
}

int balloon_pending_fd(const struct balloon *b) { return b->pending_fd; }

void balloon_stop(struct balloon *b)
{
	const struct virtio_host *h = balloon_host_lock(b);
	b->stopping = true;
	pthread_cond_broadcast(&b->idle);
	balloon_host_unlock(h);
}

/* ---- virtio_dev_ops ---- */

static uint64_t op_get_features(void *dev)
{
	struct balloon *b = dev;
	return balloon_features_offered(&b->cfg);
}

static int op_set_features(void *dev, uint64_t features)
{
	struct balloon *b = dev;
	if (b->cfg.require_must_tell_host &&
	    !(features & BALLOON_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST))) {
		/* Silent deflation would let the guest touch pages we have not
		 * re-pinned; the spec allows refusing FEATURES_OK (5.5.3.2). */
		log_ratelimited(LOG_WARN,
				"balloon: refusing FEATURES_OK: driver did not "
				"accept VIRTIO_BALLOON_F_MUST_TELL_HOST (silent "
				"deflation) and guest memory is pinned");
		return -EPERM;
	}
	atomic_store(&b->features, features);
	return 0;
}

static unsigned op_num_queues(void *dev)
{
	struct balloon *b = dev;
	uint64_t f = atomic_load(&b->features);
	unsigned n = 0;
	for (int r = 0; r < BALLOON_Q_NR; r++)
		n += balloon_queue_index(f, r) >= 0;
	return n;
}

static void config_image(struct balloon *b, struct virtio_balloon_config *c)
{
	c->num_pages = htole32(atomic_load(&b->num_pages));
	c->actual = htole32(atomic_load(&b->actual));
	c->free_page_hint_cmd_id = htole32(b->free_page_hint_cmd_id);
	c->poison_val = htole32(b->poison_val);
}

static void op_config_read(void *dev, uint32_t off, void *data, unsigned len)
{
	struct virtio_balloon_config c;
	config_image(dev, &c);
	if (off > sizeof(c) || len > sizeof(c) - off)
		return; /* the transport checks; keep the copy in bounds anyway */
	memcpy(data, (uint8_t *)&c + off, len);
}

static void op_config_write(void *dev, uint32_t off, const void *data,
			    unsigned len)
{
	struct balloon *b = dev;
	struct virtio_balloon_config c;
	config_image(b, &c);
	if (off > sizeof(c) || len > sizeof(c) - off)
		return;
	memcpy((uint8_t *)&c + off, data, len);
	/* The driver owns actual and poison_val; num_pages and the hint
	 * cmd_id are the device's, so writes to them are dropped. */
	atomic_store(&b->actual, le32toh(c.actual));
	b->poison_val = le32toh(c.poison_val);
}

/* Requests still in flight become orphans (their completions touch no
 * queue), the held stats buffer is forgotten, and queues (NULL: none after
 * a reset) are the ones the device works on from now. */
static void new_generation(struct balloon *b, struct virtq *queues,
			   unsigned nr_queues, const struct gmem *mem)
{
	balloon_req_orphan_all(b);
	balloon_stats_reset(b);
	b->gen++;
	b->queues = queues;
	b->nr_queues = nr_queues;
	b->mem = mem;
	b->pending = 0;
	b->broken = false;
	b->active = queues != NULL;
}

static int op_activate(void *dev, struct virtq *queues, unsigned nr_queues,
		       const struct gmem *mem, const struct virtio_host *host)
{
	struct balloon *b = dev;
	unsigned want = op_num_queues(b);
	if (nr_queues < want) {
		log_ratelimited(LOG_WARN,
				"balloon: %u queues at DRIVER_OK, features need %u",
				nr_queues, want);
		return -EINVAL;
	}
	int err = balloon_pages_activate(b, mem);
	if (!err)
		err = balloon_hint_activate(b, mem);
	if (err)
		return err;
	atomic_store(&b->host, host);
	/* A second DRIVER_OK without reset: earlier requests are stale. */
	new_generation(b, queues, want, mem);
	/* Linux queues and kicks the first stats buffer before DRIVER_OK, so
	 * look at every queue now. DRIVER_OK arrives on a vCPU thread and the
	 * discard engine belongs to the main loop: queues that may discard
	 * are handed to the main loop. */
	for (unsigned q = 0; q < want; q++) {
		if (balloon_queue_role(atomic_load(&b->features), q) ==
		    BALLOON_Q_STATS)
			process_queue(b, q);
		else
			balloon_defer(b, q);
	}
	return 0;
}

static void op_queue_notify(void *dev, unsigned q)
{
	process_queue(dev, q);
}

/* How often a waiting reset looks at stopping (signalled anyway). */
#define BALLOON_RESET_POLL_MS 100

/* Reset on a vCPU thread: a driver may reuse every page once its reset
 * returns, so a discard that can still run would zero a page the guest owns
 * again. No time bound: what the backend has not submitted is cancelled by
 * the main loop, what it has completes (the kernel finishes it). */
static void reset_wait_discards(struct balloon *b)
{
	const struct virtio_host *h = atomic_load(&b->host);
	if (!b->discarding || !h || !h->wait)
		return;
	b->cancel_discards = true;
	balloon_wake_pending(b);
	while (b->discarding && !b->stopping)
		h->wait(h->t, &b->idle, BALLOON_RESET_POLL_MS);
}

static void op_reset(void *dev)
{
	struct balloon *b = dev;
	/* Orphaned first, so what completes during the wait writes no ring,
	 * and inactive, so no new chain is taken meanwhile. */
	balloon_req_orphan_all(b);
	b->gen++;
	b->active = false;
	reset_wait_discards(b);
	/* The driver forgot its balloon: every page is the guest's again. */
	balloon_pages_reset(b);
	new_generation(b, NULL, 0, NULL);
	atomic_store(&b->features, 0);
	/* The target (num_pages) is the host's and survives a reset. */
	atomic_store(&b->actual, 0);
	b->poison_val = 0;
	b->free_page_hint_cmd_id = 0;
	balloon_hint_reset(b);
}

static const struct virtio_dev_ops balloon_ops = {
	.get_features = op_get_features,
	.set_features = op_set_features,
	.num_queues = op_num_queues,
	.config_read = op_config_read,
	.config_write = op_config_write,
	.activate = op_activate,
	.queue_notify = op_queue_notify,
	.reset = op_reset,
};

/* ---- public API ---- */

int balloon_init(struct balloon *b, const struct balloon_config *cfg,
		 const struct discard *discard)
{
	memset(b, 0, sizeof(*b));
	if (!cfg || cfg->amount_mib > BALLOON_MAX_TARGET_MIB)
		return -EINVAL;
	b->cfg = *cfg;
	if (discard)
		b->discard = *discard;
	b->pending_fd = -1;
	inhibit_init(&b->inhibit);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->idle, &ca);
	pthread_condattr_destroy(&ca);
	if (cfg->free_page_reporting && cfg->pin.ops)
		log_info("balloon: free page reporting not offered: guest memory "
			 "is locked and reported pages are reused without a "
			 "deflate");
	atomic_store(&b->num_pages, cfg->amount_mib * BALLOON_PAGES_PER_MIB);
	atomic_store(&b->stats_interval_s, cfg->stats_polling_interval_s);

	b->pfn_buf = calloc(BALLOON_MAX_PFNS, sizeof(*b->pfn_buf));
	b->range_buf = calloc(MAX(BALLOON_MAX_PFNS, VIRTQ_CHAIN_MAX),
			      sizeof(*b->range_buf));
	b->hp_buf = calloc(BALLOON_MAX_PFNS, sizeof(*b->hp_buf));
	if (!b->pfn_buf || !b->range_buf || !b->hp_buf)
		goto err_free;
	b->pending_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->pending_fd < 0)
		goto err_free;

	b->vdev = (struct virtio_dev){
		.device_id = VIRTIO_ID_BALLOON,
		.config_size = sizeof(struct virtio_balloon_config),
		.max_queues = BALLOON_Q_NR,
		.queue_max_size = BALLOON_QUEUE_SIZE,
		.ops = &balloon_ops,
		.dev = b,
	};
	return 0;

err_free:;
	int err = -errno;
	free(b->pfn_buf);
	free(b->range_buf);
	free(b->hp_buf);
	b->pfn_buf = NULL;
	b->range_buf = NULL;
	b->hp_buf = NULL;
	return err ? err : -ENOMEM;
}

void balloon_destroy(struct balloon *b)
{
	if (b->inflight)
		log_warn("balloon: destroyed with %u discard requests in flight",
			 b->inflight);
	if (b->pending_fd >= 0)
		close(b->pending_fd);
	free(b->pfn_buf);
	free(b->range_buf);
	free(b->hp_buf);
	pthread_cond_destroy(&b->idle);
	balloon_pages_destroy(b);
	balloon_hint_destroy(b);
	memset(b, 0, sizeof(*b));
	b->pending_fd = -1;
}

struct virtio_dev *balloon_virtio_dev(struct balloon *b) { return &b->vdev; }

int balloon_set_target_mib(struct balloon *b, uint32_t mib)
{
	if (mib > BALLOON_MAX_TARGET_MIB)
		return -EINVAL;
	const struct virtio_host *h = balloon_host_lock(b);
	atomic_store(&b->num_pages, mib * BALLOON_PAGES_PER_MIB);
	/* Before DRIVER_OK the driver reads num_pages at probe anyway. */
	if (h && b->active)
		h->config_changed(h->t);
	balloon_host_unlock(h);
	return 0;
}

void balloon_get_info(struct balloon *b, struct balloon_info *info)
{
	const struct virtio_host *h = balloon_host_lock(b);
	uint64_t f = atomic_load(&b->features);
	memset(info, 0, sizeof(*info));
	info->target_pages = atomic_load(&b->num_pages);
	info->actual_pages = atomic_load(&b->actual);
	info->target_mib = info->target_pages / BALLOON_PAGES_PER_MIB;
	info->actual_mib = info->actual_pages / BALLOON_PAGES_PER_MIB;
	info->features = f;
	info->activated = h && b->active;
	info->deflate_on_oom =
		f & BALLOON_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	info->stats_enabled = f & BALLOON_BIT(VIRTIO_BALLOON_F_STATS_VQ);
	info->free_page_reporting =
		info->activated && (f & BALLOON_BIT(VIRTIO_BALLOON_F_REPORTING));
	info->page_poison = f & BALLOON_BIT(VIRTIO_BALLOON_F_PAGE_POISON);
	info->poison_val = h ? b->poison_val : 0;
	info->stats_polling_interval_s = atomic_load(&b->stats_interval_s);
	balloon_host_unlock(h);
}

void balloon_get_metrics(struct balloon *b, struct balloon_metrics *m)
{
	const struct virtio_host *h = balloon_host_lock(b);
	*m = b->m;
	balloon_host_unlock(h);
}

int balloon_inhibit_add(struct balloon *b, const char *reason)
{
	const struct virtio_host *h = balloon_host_lock(b);
	int err = inhibit_add(&b->inhibit, reason);
	balloon_host_unlock(h);
	if (!err)
		log_info("balloon: discard inhibited (%s)", reason);
	return err;
}

int balloon_inhibit_remove(struct balloon *b, const char *reason)
{
	const struct virtio_host *h = balloon_host_lock(b);
	int err = inhibit_remove(&b->inhibit, reason);
	bool active = inhibit_active(&b->inhibit);
	balloon_host_unlock(h);
	if (!err)
		log_info("balloon: %s released its discard inhibit%s", reason,
			 active ? "" : "; discarding again");
	return err;
}

void balloon_get_inhibit(struct balloon *b, struct inhibit *out)
{
	const struct virtio_host *h = balloon_host_lock(b);
	*out = b->inhibit;
	balloon_host_unlock(h);
}

unsigned balloon_discards_in_flight(struct balloon *b)
{
	const struct virtio_host *h = balloon_host_lock(b);
	unsigned n = b->inflight; /* orphans too: they still discard */
	balloon_host_unlock(h);
	return n;
}

void balloon_set_stats_interval(struct balloon *b, uint32_t interval_s)
{
	atomic_store(&b->stats_interval_s, interval_s);
}

uint32_t balloon_get_stats_interval(struct balloon *b)
{
	return atomic_load(&b->stats_interval_s);
}
