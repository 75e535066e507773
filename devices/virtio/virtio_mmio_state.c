/* Snapshot save/restore of the virtio-mmio transport and its split
 * virtqueues. The state file is untrusted input: the whole image is checked
 * against what the register file and the state machine (3.1.1, 4.2.3) can
 * reach before anything changes, and rings go through virtq_activate. */
#include <devices/virtio_mmio.h>

#include <core/checked.h>
#include <core/err.h>
#include <core/io.h>
#include <core/log.h>

#include <errno.h>
#include <linux/virtio_config.h>
#include <stddef.h>
#include <string.h>

/* Raw bytes in the state file: the layout is part of the file format. */
_Static_assert(sizeof(struct virtio_mmio_queue_state) == 40,
	       "virtio_mmio_queue_state layout");
_Static_assert(offsetof(struct virtio_mmio_state, queues) == 48,
	       "virtio_mmio_state layout");
_Static_assert(sizeof(struct virtio_mmio_state) ==
		       48 + 40 * VIRTIO_MMIO_MAX_QUEUES,
	       "virtio_mmio_state layout");

#define BIT64(n) (1ULL << (n))
#define STATUS_DRIVER_BITS                                                    \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |               \
	 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK |            \
	 VIRTIO_CONFIG_S_FAILED)
#define INT_BITS (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)

int virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&t->lock);
	st->device_id = t->dev->device_id;
	st->status = t->status;
	st->device_features_sel = t->device_features_sel;
	st->driver_features_sel = t->driver_features_sel;
	st->driver_features = t->driver_features;
	st->queue_sel = t->queue_sel;
	st->shm_sel = t->shm_sel;
	st->interrupt_status = t->interrupt_status;
	st->config_generation = t->config_generation;
	st->nr_queues = t->nr_queues;
	st->driver_features_bad = t->driver_features_bad;
	st->activated = t->activated;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		const struct virtq *vq = &t->queues[i];
		struct virtio_mmio_queue_state *qs = &st->queues[i];
		qs->desc_gpa = vq->desc_gpa;
		qs->avail_gpa = vq->avail_gpa;
		qs->used_gpa = vq->used_gpa;
		qs->size = vq->size;
		qs->last_avail = vq->last_avail;
		qs->used_idx = vq->used_idx;
		qs->signalled_used = vq->signalled_used;
		qs->ready = vq->ready;
		qs->signalled_valid = vq->signalled_valid;
		qs->signalled_answer = vq->signalled_answer;
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* Status as mmio_status_write can leave it: driver bits added in the order
 * of 3.1.1, NEEDS_RESET only once the driver started. NULL when fine. */
static const char *status_invalid(uint32_t s)
{
	if (s & ~(STATUS_DRIVER_BITS | VIRTIO_CONFIG_S_NEEDS_RESET))
		return "unknown bits";
	if ((s & VIRTIO_CONFIG_S_DRIVER) && !(s & VIRTIO_CONFIG_S_ACKNOWLEDGE))
		return "DRIVER without ACKNOWLEDGE";
	if ((s & VIRTIO_CONFIG_S_FEATURES_OK) && !(s & VIRTIO_CONFIG_S_DRIVER))
		return "FEATURES_OK without DRIVER";
	if ((s & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(s & VIRTIO_CONFIG_S_FEATURES_OK))
		return "DRIVER_OK without FEATURES_OK";
	if (s == VIRTIO_CONFIG_S_NEEDS_RESET)
		return "NEEDS_RESET on a device the driver never touched";
	return NULL;
}

static int check_features(const struct virtio_mmio_state *st, uint64_t offer,
			  char *err, size_t errlen)
{
	uint64_t df = st->driver_features;

	if (st->driver_features_bad > 1)
		return err_set(err, errlen, -EINVAL,
			       "driver_features_bad is not 0 or 1");
	if ((df || st->driver_features_bad) &&
	    !(st->status & VIRTIO_CONFIG_S_DRIVER))
		return err_set(
			err, errlen, -EINVAL,
			"driver features 0x%llx without DRIVER in Status",
			(unsigned long long)df);
	if (df & ~offer)
		return err_set(
			err, errlen, -EINVAL,
			"driver features 0x%llx include bit %d, which this "
			"device does not offer (offer 0x%llx): was it "
			"configured differently?",
			(unsigned long long)df, __builtin_ctzll(df & ~offer),
			(unsigned long long)offer);
	if (!(st->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return 0;
	if (st->driver_features_bad)
		return err_set(err, errlen, -EINVAL,
			       "FEATURES_OK with feature bits above 63");
	if (!(df & BIT64(VIRTIO_F_VERSION_1)))
		return err_set(err, errlen, -EINVAL,
			       "FEATURES_OK without VIRTIO_F_VERSION_1");
	return 0;
}

static int check_queue(const struct virtio_mmio *t,
		       const struct virtio_mmio_state *st, unsigned i,
		       char *err, size_t errlen)
{
	const struct virtio_mmio_queue_state *qs = &st->queues[i];
	const struct virtio_dev *d = t->dev;

	if (!io_all_zero(qs->pad, sizeof(qs->pad)))
		return err_set(err, errlen, -EINVAL,
			       "queue %u: non-zero padding", i);
	/* Queue registers are written only after FEATURES_OK, and only for
	 * queues the device has (4.2.3.2). */
	if (i >= d->max_queues || !(st->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		if (!io_all_zero(qs, sizeof(*qs)))
			return err_set(
				err, errlen, -EINVAL, "queue %u set up %s", i,
				i >= d->max_queues
					? "but the device has no such queue"
					: "before FEATURES_OK");
		return 0;
	}
	if (qs->ready > 1 || qs->signalled_valid > 1 ||
	    qs->signalled_answer > 1)
		return err_set(err, errlen, -EINVAL,
			       "queue %u: a flag is not 0 or 1", i);
	if (qs->size > d->queue_max_size)
		return err_set(err, errlen, -EINVAL,
			       "queue %u: size %u above the max %u", i,
			       qs->size, d->queue_max_size);
	if (!qs->ready)
		return 0;
	if (!IS_POW2(qs->size))
		return err_set(err, errlen, -EINVAL,
			       "queue %u: size %u is not a power of two", i,
			       qs->size);
	/* The rings as virtq_activate checks them, on a scratch copy. */
	struct virtq vq = {
		.size = qs->size,
		.desc_gpa = qs->desc_gpa,
		.avail_gpa = qs->avail_gpa,
		.used_gpa = qs->used_gpa,
	};
	if (virtq_activate(&vq, t->mem, d->queue_max_size, st->driver_features))
		return err_set(
			err, errlen, -EINVAL,
			"queue %u: rings (desc 0x%llx, avail 0x%llx, used "
			"0x%llx) outside guest RAM or misaligned",
			i, (unsigned long long)qs->desc_gpa,
			(unsigned long long)qs->avail_gpa,
			(unsigned long long)qs->used_gpa);
	/* Popped but not yet used: never more than the ring holds. */
	uint16_t in_flight = (uint16_t)(qs->last_avail - qs->used_idx);
	if (in_flight > qs->size)
		return err_set(err, errlen, -EINVAL,
			       "queue %u: %u buffers in flight (last_avail %u, "
			       "used_idx %u) in a queue of %u",
			       i, in_flight, qs->last_avail, qs->used_idx,
			       qs->size);
	return 0;
}

/* Everything that can be checked without touching t or its device. */
static int check_state(const struct virtio_mmio *t,
		       const struct virtio_mmio_state *st, uint64_t offer,
		       char *err, size_t errlen)
{
	const uint32_t s = st->status;
	const char *why;
	int r;

	if (st->device_id != t->dev->device_id)
		return err_set(err, errlen, -EINVAL,
			       "state is of device id %u, not this device",
			       st->device_id);
	if (!io_all_zero(st->pad, sizeof(st->pad)))
		return err_set(err, errlen, -EINVAL, "non-zero padding");
	if ((why = status_invalid(s)))
		return err_set(err, errlen, -EINVAL, "Status 0x%x: %s", s, why);
	if (st->interrupt_status & ~INT_BITS)
		return err_set(err, errlen, -EINVAL,
			       "InterruptStatus 0x%x: unknown bits",
			       st->interrupt_status);
	/* Interrupts are raised only once the driver is running. */
	if (st->interrupt_status && !(s & VIRTIO_CONFIG_S_DRIVER_OK))
		return err_set(err, errlen, -EINVAL,
			       "InterruptStatus 0x%x without DRIVER_OK",
			       st->interrupt_status);
	if (st->activated > 1)
		return err_set(err, errlen, -EINVAL, "activated is not 0 or 1");
	if (st->activated && !(s & VIRTIO_CONFIG_S_DRIVER_OK))
		return err_set(err, errlen, -EINVAL,
			       "activated without DRIVER_OK");
	/* DRIVER_OK leaves the device unactivated only when it needed a reset
	 * then (a bad queue before, or activate refused). */
	if ((s & VIRTIO_CONFIG_S_DRIVER_OK) && !st->activated &&
	    !(s & VIRTIO_CONFIG_S_NEEDS_RESET))
		return err_set(err, errlen, -EINVAL,
			       "DRIVER_OK but the device was never activated");
	if (st->nr_queues > t->dev->max_queues ||
	    (!(s & VIRTIO_CONFIG_S_DRIVER_OK) && st->nr_queues))
		return err_set(err, errlen, -EINVAL,
			       "nr_queues %u in Status 0x%x", st->nr_queues, s);
	if ((r = check_features(st, offer, err, errlen)))
		return r;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		if ((r = check_queue(t, st, i, err, errlen)))
			return r;
	return 0;
}

static void restore_queue(struct virtio_mmio *t,
			  const struct virtio_mmio_queue_state *qs,
			  struct virtq *vq)
{
	virtq_reset(vq);
	vq->size = qs->size;
	vq->desc_gpa = qs->desc_gpa;
	vq->avail_gpa = qs->avail_gpa;
	vq->used_gpa = qs->used_gpa;
	/* Checked by check_queue: cannot fail here. */
	if (qs->ready)
		virtq_activate(vq, t->mem, t->dev->queue_max_size,
			       t->driver_features);
	vq->last_avail = qs->last_avail;
	vq->used_idx = qs->used_idx;
	vq->signalled_used = qs->signalled_used;
	vq->signalled_valid = qs->signalled_valid;
	vq->signalled_answer = qs->signalled_answer;
}

/* Back to the power-on state through the register path (Status 0). */
static void reset_transport(struct virtio_mmio *t)
{
	uint32_t zero = 0;
	virtio_mmio_bus_ops.write(t, VIRTIO_MMIO_STATUS, &zero, sizeof(zero));
}

static int restore_locked(struct virtio_mmio *t,
			  const struct virtio_mmio_state *st, char *err,
			  size_t errlen)
{
	const struct virtio_dev *d = t->dev;
	int r;

	if (t->status || t->activated || t->nr_queues)
		return err_set(err, errlen, -EBUSY,
			       "restore needs a freshly initialised transport");
	if ((r = check_state(t, st, virtio_mmio_features_offered(t), err,
			     errlen)))
		return r;
	/* The device learns its features as at FEATURES_OK; it may refuse
	 * (then the original could not have reached this state either). */
	if ((st->status & VIRTIO_CONFIG_S_FEATURES_OK) && d->ops->set_features &&
	    d->ops->set_features(d->dev, st->driver_features) < 0) {
		if (d->ops->reset)
			d->ops->reset(d->dev);
		return err_set(err, errlen, -EINVAL,
			       "the device refuses driver features 0x%llx",
			       (unsigned long long)st->driver_features);
	}
	if (st->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		unsigned nr = d->ops->num_queues ? d->ops->num_queues(d->dev)
						 : d->max_queues;
		if (st->nr_queues != MIN(nr, d->max_queues)) {
			/* Undo set_features: a reset is the fresh state. */
			if (d->ops->reset)
				d->ops->reset(d->dev);
			return err_set(err, errlen, -EINVAL,
				       "nr_queues %u, the negotiated features "
				       "give %u",
				       st->nr_queues, MIN(nr, d->max_queues));
		}
	}

	t->status = st->status;
	t->device_features_sel = st->device_features_sel;
	t->driver_features_sel = st->driver_features_sel;
	t->driver_features = st->driver_features;
	t->driver_features_bad = st->driver_features_bad;
	t->queue_sel = st->queue_sel;
	t->shm_sel = st->shm_sel;
	t->interrupt_status = st->interrupt_status;
	t->config_generation = st->config_generation;
	t->nr_queues = st->nr_queues;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		restore_queue(t, &st->queues[i], &t->queues[i]);

	if (st->activated) {
		/* As mmio_driver_ok: the device sees its queues and may look
		 * at them now, from the restored indices. */
		if (d->ops->activate &&
		    (r = d->ops->activate(d->dev, t->queues, t->nr_queues, t->mem,
					  &t->host)) < 0) {
			reset_transport(t);
			return err_set(err, errlen, r,
				       "the device refused to activate: %s",
				       strerror(-r));
		}
		t->activated = true;
	}
	/* The driver may not have seen the last interrupt yet: one more is
	 * harmless, a lost one would stall it. */
	if (t->interrupt_status) {
		t->metrics.irqs++;
		int e = irq_fire(&t->irq);
		if (e)
			log_warn("virtio-mmio (device %u): irq after restore: %s",
				 d->device_id, strerror(-e));
	}
	return 0;
}

int virtio_mmio_restore(struct virtio_mmio *t,
			const struct virtio_mmio_state *st, char *err,
			size_t errlen)
{
	char why[256];
	pthread_mutex_lock(&t->lock);
	int r = restore_locked(t, st, why, sizeof(why));
	pthread_mutex_unlock(&t->lock);
	if (r)
		err_set(err, errlen, r, "virtio-mmio (device %u): %s",
			t->dev->device_id, why);
	return r;
}

void virtio_mmio_restored(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	for (unsigned q = 0; q < t->nr_queues; q++)
		if (t->queues[q].ready)
			virtio_mmio_queue_event(t, q);
	pthread_mutex_unlock(&t->lock);
}
