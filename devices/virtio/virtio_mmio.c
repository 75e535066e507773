/* virtio-mmio version 2 register file (virtio 1.2 section 4.2.2) and the
 * device status state machine (2.1, 3.1.1). Every guest access is checked;
 * a bad one is ignored, counted and logged at a limited rate. */
#include <devices/virtio_mmio.h>

#include <core/checked.h>
#include <core/log.h>

#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define BIT64(n) (1ULL << (n))
#define MMIO_MAGIC 0x74726976U /* "virt" */
#define MMIO_VERSION 2
/* Bits the driver may set; NEEDS_RESET is the device's. */
#define MMIO_STATUS_DRIVER_BITS                                               \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |               \
	 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK |            \
	 VIRTIO_CONFIG_S_FAILED)
/* Feature bits 24..49 belong to the transport (6); we implement these. */
#define MMIO_TRANSPORT_BITS (((1ULL << 50) - 1) & ~((1ULL << 24) - 1))
#define MMIO_TRANSPORT_FEATURES                                               \
	(BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_RING_F_INDIRECT_DESC) |     \
	 BIT64(VIRTIO_RING_F_EVENT_IDX))

static void mmio_lock(void *opaque)
{
	struct virtio_mmio *t = opaque;
	pthread_mutex_lock(&t->lock);
}

static void mmio_unlock(void *opaque)
{
	struct virtio_mmio *t = opaque;
	pthread_mutex_unlock(&t->lock);
}

static int mmio_wait(void *opaque, pthread_cond_t *cond, unsigned timeout_ms)
{
	struct virtio_mmio *t = opaque;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(cond, &t->lock, &ts);
}

/* Counts a guest access the register file ignores; true when it may be
 * logged. One limit for every kind, so a guest cannot flood the log by
 * varying its mistakes. */
static bool mmio_bad_counted(struct virtio_mmio *t)
{
	static struct log_ratelimit rl;
	t->metrics.bad_accesses++;
	return log_ratelimit_ok(&rl);
}

#define mmio_bad(t, fmt, ...)                                                \
	do {                                                                 \
		if (mmio_bad_counted(t))                                     \
			log_warn("virtio-mmio (device %u): " fmt " ignored", \
				 (t)->dev->device_id, ##__VA_ARGS__);        \
	} while (0)

static uint64_t mmio_offer(const struct virtio_mmio *t)
{
	uint64_t dev = t->dev->ops->get_features
			       ? t->dev->ops->get_features(t->dev->dev)
			       : 0;
	return (dev & ~MMIO_TRANSPORT_BITS) | MMIO_TRANSPORT_FEATURES;
}

uint64_t virtio_mmio_features_offered(struct virtio_mmio *t)
{
	mmio_lock(t);
	uint64_t offer = mmio_offer(t);
	mmio_unlock(t);
	return offer;
}

static void mmio_raise(struct virtio_mmio *t, uint32_t bit)
{
	t->interrupt_status |= bit;
	t->metrics.irqs++;
	int err = irq_fire(&t->irq);
	if (err)
		log_ratelimited(LOG_WARN, "virtio-mmio (device %u): irq: %s",
				t->dev->device_id, strerror(-err));
}

static void mmio_host_notify_queue(void *opaque, unsigned q)
{
	struct virtio_mmio *t = opaque;

	mmio_lock(t);
	if (q < t->nr_queues && (t->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (virtq_needs_notify(&t->queues[q]))
			mmio_raise(t, VIRTIO_MMIO_INT_VRING);
		else
			t->metrics.irqs_suppressed++;
	}
	mmio_unlock(t);
}

static void mmio_host_config_changed(void *opaque)
{
	struct virtio_mmio *t = opaque;

	mmio_lock(t);
	/* The driver re-reads config when the generation moves (4.2.2). */
	t->config_generation++;
	t->metrics.config_changes++;
	if (t->status & VIRTIO_CONFIG_S_DRIVER_OK)
		mmio_raise(t, VIRTIO_MMIO_INT_CONFIG);
	mmio_unlock(t);
}

static void mmio_set_needs_reset(struct virtio_mmio *t, const char *why)
{
	log_ratelimited(LOG_WARN, "virtio-mmio (device %u): needs reset: %s",
			t->dev->device_id, why);
	if (t->status == 0 || (t->status & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	t->metrics.needs_reset++;
	/* With DRIVER_OK set, tell the driver by a config interrupt (2.1.2). */
	if (t->status & VIRTIO_CONFIG_S_DRIVER_OK)
		mmio_raise(t, VIRTIO_MMIO_INT_CONFIG);
}

static void mmio_host_needs_reset(void *opaque, const char *why)
{
	struct virtio_mmio *t = opaque;

	mmio_lock(t);
	mmio_set_needs_reset(t, why);
	mmio_unlock(t);
}

int virtio_mmio_init(struct virtio_mmio *t, struct virtio_dev *dev,
		     const struct gmem *mem, struct irq_trigger irq)
{
	pthread_mutexattr_t attr;

	memset(t, 0, sizeof(*t));
	if (!dev || !dev->ops || !mem || dev->max_queues == 0 ||
	    dev->max_queues > VIRTIO_MMIO_MAX_QUEUES ||
	    !IS_POW2(dev->queue_max_size) ||
	    dev->queue_max_size > VIRTQ_MAX_SIZE ||
	    dev->config_size > VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG)
		return -EINVAL;
	if (pthread_mutexattr_init(&attr))
		return -ENOMEM;
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	int err = pthread_mutex_init(&t->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (err)
		return -err;
	t->dev = dev;
	t->mem = mem;
	t->irq = irq;
	t->host = (struct virtio_host){
		.t = t,
		.notify_queue = mmio_host_notify_queue,
		.config_changed = mmio_host_config_changed,
		.needs_reset = mmio_host_needs_reset,
		.lock = mmio_lock,
		.unlock = mmio_unlock,
		.wait = mmio_wait,
	};
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	pthread_mutex_destroy(&t->lock);
}

void virtio_mmio_get_metrics(struct virtio_mmio *t,
			     struct virtio_mmio_metrics *out)
{
	mmio_lock(t);
	*out = t->metrics;
	mmio_unlock(t);
}

void virtio_mmio_dump(struct virtio_mmio *t, const char *name)
{
	mmio_lock(t);
	log_info("dump: %s: status 0x%x interrupt_status 0x%x, %u queues",
		 name, t->status, t->interrupt_status, t->nr_queues);
	for (unsigned q = 0; q < t->nr_queues && q < VIRTIO_MMIO_MAX_QUEUES;
	     q++) {
		char line[200];
		virtq_describe(&t->queues[q], line, sizeof(line));
		log_info("dump: %s: queue %u: %s", name, q, line);
	}
	mmio_unlock(t);
}

int virtio_mmio_cmdline_arg(char *buf, size_t size, uint64_t base,
			    unsigned irq)
{
	int n = snprintf(buf, size, "virtio_mmio.device=%u@0x%llx:%u",
			 VIRTIO_MMIO_SIZE, (unsigned long long)base, irq);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

/* Status 0: everything back to the power-on state (2.4, 4.2.2.1). */
static void mmio_reset(struct virtio_mmio *t)
{
	if (t->dev->ops->reset)
		t->dev->ops->reset(t->dev->dev);
	t->status = 0;
	t->device_features_sel = 0;
	t->driver_features_sel = 0;
	t->driver_features = 0;
	t->driver_features_bad = false;
	t->queue_sel = 0;
	t->shm_sel = 0;
	t->interrupt_status = 0;
	t->config_generation = 0;
	t->nr_queues = 0;
	t->activated = false;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		virtq_reset(&t->queues[i]);
	t->metrics.resets++;
}

/* FEATURES_OK: the driver's set must be a subset of the offer, include
 * VERSION_1 (no legacy interface), and suit the device (3.1.1 step 5). */
static bool mmio_features_ok(struct virtio_mmio *t)
{
	uint64_t df = t->driver_features, offer = mmio_offer(t);

	if (t->driver_features_bad || (df & ~offer)) {
		mmio_bad(t, "FEATURES_OK with unoffered features 0x%llx%s",
			 (unsigned long long)(df & ~offer),
			 t->driver_features_bad ? " and bits above 63" : "");
		return false;
	}
	if (!(df & BIT64(VIRTIO_F_VERSION_1))) {
		mmio_bad(t, "FEATURES_OK without VIRTIO_F_VERSION_1");
		return false;
	}
	if (t->dev->ops->set_features &&
	    t->dev->ops->set_features(t->dev->dev, df) < 0) {
		log_ratelimited(LOG_INFO,
				"virtio-mmio (device %u): features 0x%llx refused",
				t->dev->device_id, (unsigned long long)df);
		return false;
	}
	return true;
}

static void mmio_driver_ok(struct virtio_mmio *t)
{
	const struct virtio_dev *d = t->dev;
	unsigned nr = d->ops->num_queues ? d->ops->num_queues(d->dev)
					 : d->max_queues;

	t->nr_queues = MIN(nr, d->max_queues);
	if (t->status & VIRTIO_CONFIG_S_NEEDS_RESET) {
		/* Broken during setup: now the driver can hear of it. */
		mmio_raise(t, VIRTIO_MMIO_INT_CONFIG);
		return;
	}
	if (d->ops->activate && d->ops->activate(d->dev, t->queues,
						 t->nr_queues, t->mem,
						 &t->host) < 0)
		mmio_set_needs_reset(t, "device refused to activate");
	else
		t->activated = true;
}

static void mmio_status_write(struct virtio_mmio *t, uint32_t val)
{
	const uint32_t old = t->status & MMIO_STATUS_DRIVER_BITS;

	if (val == 0) {
		mmio_reset(t);
		return;
	}
	/* The driver writes back what it read, NEEDS_RESET included. */
	if (val & ~(MMIO_STATUS_DRIVER_BITS | VIRTIO_CONFIG_S_NEEDS_RESET)) {
		mmio_bad(t, "Status 0x%x with unknown bits", val);
		return;
	}
	val &= MMIO_STATUS_DRIVER_BITS;
	/* Bits are only ever added, in the order of 3.1.1. */
	if ((val & old) != old) {
		mmio_bad(t, "Status 0x%x clearing bits of 0x%x", val, old);
		return;
	}
	if (((val & VIRTIO_CONFIG_S_DRIVER) &&
	     !(val & VIRTIO_CONFIG_S_ACKNOWLEDGE)) ||
	    ((val & VIRTIO_CONFIG_S_FEATURES_OK) &&
	     !(val & VIRTIO_CONFIG_S_DRIVER)) ||
	    ((val & VIRTIO_CONFIG_S_DRIVER_OK) &&
	     !(val & VIRTIO_CONFIG_S_FEATURES_OK))) {
		mmio_bad(t, "Status 0x%x out of order (was 0x%x)", val, old);
		return;
	}
	uint32_t added = val & ~old;
	if ((old & VIRTIO_CONFIG_S_FAILED) && (added & ~VIRTIO_CONFIG_S_FAILED)) {
		mmio_bad(t, "Status 0x%x after FAILED", val);
		return;
	}
	if ((added & VIRTIO_CONFIG_S_FEATURES_OK) && !mmio_features_ok(t)) {
		/* Refused: FEATURES_OK reads back clear (3.1.1 step 6). */
		val &= ~(VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
		added &= ~(VIRTIO_CONFIG_S_FEATURES_OK |
			   VIRTIO_CONFIG_S_DRIVER_OK);
	}
	t->status = val | (t->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	if (added & VIRTIO_CONFIG_S_DRIVER_OK)
		mmio_driver_ok(t);
}

/* The selected queue if its setup registers may be written now: after
 * FEATURES_OK, before DRIVER_OK, while the queue is not ready (4.2.3.2). */
static struct virtq *mmio_setup_queue(struct virtio_mmio *t, const char *reg)
{
	const uint32_t st = t->status;

	if (t->queue_sel >= t->dev->max_queues) {
		mmio_bad(t, "%s for QueueSel %u out of range", reg, t->queue_sel);
		return NULL;
	}
	if (!(st & VIRTIO_CONFIG_S_FEATURES_OK) ||
	    (st & (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED))) {
		mmio_bad(t, "%s in Status 0x%x", reg, st);
		return NULL;
	}
	struct virtq *vq = &t->queues[t->queue_sel];
	if (vq->ready) {
		mmio_bad(t, "%s on ready queue %u", reg, t->queue_sel);
		return NULL;
	}
	return vq;
}

static void mmio_set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		*v = (*v & ~0xffffffffULL) | val;
}

static void mmio_queue_ready_write(struct virtio_mmio *t, uint32_t val)
{
	if (val == 0) {
		/* The driver may stop a queue at any time (4.2.2.2). */
		if (t->queue_sel < t->dev->max_queues)
			t->queues[t->queue_sel].ready = false;
		return;
	}
	if (val != 1) {
		mmio_bad(t, "QueueReady %u", val);
		return;
	}
	struct virtq *vq = mmio_setup_queue(t, "QueueReady");
	if (!vq)
		return;
	if (virtq_activate(vq, t->mem, t->dev->queue_max_size,
			   t->driver_features)) {
		char why[96];
		snprintf(why, sizeof(why),
			 "queue %u: size %u or rings outside RAM/misaligned",
			 t->queue_sel, vq->size);
		mmio_set_needs_reset(t, why);
	}
}

/* Features may be written only between DRIVER and FEATURES_OK (4.2.2.2);
 * a non-zero word beyond the 64 bits the device knows fails FEATURES_OK. */
static void mmio_driver_features_write(struct virtio_mmio *t, uint32_t val)
{
	if ((t->status & (VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
			  VIRTIO_CONFIG_S_FAILED)) != VIRTIO_CONFIG_S_DRIVER) {
		mmio_bad(t, "DriverFeatures in Status 0x%x", t->status);
		return;
	}
	if (t->driver_features_sel < 2)
		mmio_set_half(&t->driver_features, t->driver_features_sel == 1,
			      val);
	else if (val)
		t->driver_features_bad = true;
}

static void mmio_queue_num_write(struct virtio_mmio *t, uint32_t val)
{
	struct virtq *vq = mmio_setup_queue(t, "QueueNum");
	if (!vq)
		return;
	if (val == 0 || val > t->dev->queue_max_size) {
		mmio_bad(t, "QueueNum %u (max %u)", val, t->dev->queue_max_size);
		return;
	}
	vq->size = (uint16_t)val; /* power of two checked at ready */
}

static void mmio_reg_write(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	struct virtq *vq;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		mmio_driver_features_write(t, val);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		mmio_queue_num_write(t, val);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		mmio_queue_ready_write(t, val);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		virtio_mmio_queue_event(t, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->interrupt_status &= ~val;
		break;
	case VIRTIO_MMIO_STATUS:
		mmio_status_write(t, val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if ((vq = mmio_setup_queue(t, "QueueDesc")))
			mmio_set_half(&vq->desc_gpa,
				      off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: /* QueueDriver in version 2 */
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if ((vq = mmio_setup_queue(t, "QueueDriver")))
			mmio_set_half(&vq->avail_gpa,
				      off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW: /* QueueDevice in version 2 */
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if ((vq = mmio_setup_queue(t, "QueueDevice")))
			mmio_set_half(&vq->used_gpa,
				      off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		t->shm_sel = val;
		break;
	default:
		mmio_bad(t, "write 0x%x to offset 0x%llx", val,
			 (unsigned long long)off);
	}
}

static uint32_t mmio_reg_read(struct virtio_mmio *t, uint64_t off)
{
	const bool sel_ok = t->queue_sel < t->dev->max_queues;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->dev->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR_ID_MVMM;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel >= 2)
			return 0;
		return (uint32_t)(mmio_offer(t) >>
				  (32 * t->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		/* 0 says "no such queue" (4.2.2). */
		return sel_ok ? t->dev->queue_max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return sel_ok && t->queues[t->queue_sel].ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffU; /* no shared memory regions */
	default:
		mmio_bad(t, "read of offset 0x%llx", (unsigned long long)off);
		return 0;
	}
}

/* The config window takes 1, 2, 4 and 8 byte accesses inside the device's
 * config space. */
static bool mmio_config_fits(const struct virtio_mmio *t, uint64_t coff,
			     unsigned len)
{
	return (len == 1 || len == 2 || len == 4 || len == 8) &&
	       range_within(coff, len, 0, t->dev->config_size);
}

static void mmio_bus_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct virtio_mmio *t = opaque;

	mmio_lock(t);
	memset(data, 0, len);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t coff = off - VIRTIO_MMIO_CONFIG;
		if (mmio_config_fits(t, coff, len) && t->dev->ops->config_read)
			t->dev->ops->config_read(t->dev->dev, (uint32_t)coff,
						 data, len);
		else
			mmio_bad(t, "config read of %u at 0x%llx", len,
				 (unsigned long long)coff);
	} else if (len != 4 || off % 4) {
		mmio_bad(t, "read of %u bytes at 0x%llx", len,
			 (unsigned long long)off);
	} else {
		uint32_t v = htole32(mmio_reg_read(t, off));
		memcpy(data, &v, 4);
	}
	mmio_unlock(t);
}

static void mmio_bus_write(void *opaque, uint64_t off, const void *data,
			   unsigned len)
{
	struct virtio_mmio *t = opaque;

	mmio_lock(t);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t coff = off - VIRTIO_MMIO_CONFIG;
		if (mmio_config_fits(t, coff, len) && t->dev->ops->config_write)
			t->dev->ops->config_write(t->dev->dev, (uint32_t)coff,
						  data, len);
		else
			mmio_bad(t, "config write of %u at 0x%llx", len,
				 (unsigned long long)coff);
	} else if (len != 4 || off % 4) {
		mmio_bad(t, "write of %u bytes at 0x%llx", len,
			 (unsigned long long)off);
	} else {
		uint32_t v;
		memcpy(&v, data, 4);
		mmio_reg_write(t, off, le32toh(v));
	}
	mmio_unlock(t);
}

const struct bus_dev_ops virtio_mmio_bus_ops = {
	.read = mmio_bus_read,
	.write = mmio_bus_write,
};

void virtio_mmio_queue_event(struct virtio_mmio *t, unsigned q)
{
	mmio_lock(t);
	const uint32_t st = t->status;
	if (!(st & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (st & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)) ||
	    q >= t->nr_queues || !t->queues[q].ready) {
		t->metrics.kicks_ignored++;
		/* Linux kicks buffers it adds before DRIVER_OK (the balloon's
		 * first stats buffer); devices look at queues at activation. */
		log_ratelimited((st & VIRTIO_CONFIG_S_DRIVER_OK) ? LOG_WARN : LOG_DEBUG,
				"virtio-mmio (device %u): notify of queue %u "
				"in Status 0x%x ignored",
				t->dev->device_id, q, st);
	} else {
		t->metrics.kicks++;
		if (t->dev->ops->queue_notify)
			t->dev->ops->queue_notify(t->dev->dev, q);
	}
	mmio_unlock(t);
}

int virtio_mmio_ring_ranges(struct virtio_mmio *t, struct virtq_range *out,
			    unsigned max)
{
	unsigned n = 0;
	int err = 0;

	mmio_lock(t);
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		if (!t->queues[q].size)
			continue;
		if (max - n < VIRTQ_NR_RINGS) {
			err = -ENOSPC;
			break;
		}
		virtq_rings(&t->queues[q], out + n);
		n += VIRTQ_NR_RINGS;
	}
	mmio_unlock(t);
	return err ? err : (int)n;
}
