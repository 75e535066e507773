/* fake_driver: the driver half of a split virtqueue plus the virtio-mmio
 * probe and negotiation sequence, modelled on Linux's virtio_mmio.c /
 * virtio_ring.c behaviour (not their code). */
#include "fake_driver.h"

#include <core/checked.h>

#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>

void fake_driver_init(struct fake_driver *d, const struct bus *bus,
		      uint64_t base, const struct gmem *mem, uint64_t heap_gpa,
		      uint64_t heap_len)
{
	memset(d, 0, sizeof(*d));
	d->bus = bus;
	d->base = base;
	d->mem = mem;
	d->heap_next = heap_gpa;
	d->heap_end = heap_gpa + heap_len;
}

uint64_t fake_driver_alloc(struct fake_driver *d, uint64_t len, uint64_t align)
{
	uint64_t gpa = ALIGN_UP(d->heap_next, align ? align : 1);
	if (gpa < d->heap_next || gpa > d->heap_end || len > d->heap_end - gpa)
		return 0;
	d->heap_next = gpa + len;
	void *p = gmem_ptr(d->mem, gpa, len);
	if (p)
		memset(p, 0, len);
	return gpa;
}

void *fake_driver_ptr(struct fake_driver *d, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(d->mem, gpa, len);
}

uint32_t fake_driver_read(struct fake_driver *d, uint32_t off)
{
	uint32_t v;
	bus_read(d->bus, d->base + off, &v, 4);
	return le32toh(v);
}

void fake_driver_write(struct fake_driver *d, uint32_t off, uint32_t val)
{
	uint32_t v = htole32(val);
	bus_write(d->bus, d->base + off, &v, 4);
}

void fake_driver_config_read(struct fake_driver *d, uint32_t off, void *buf,
			     unsigned len)
{
	bus_read(d->bus, d->base + VIRTIO_MMIO_CONFIG + off, buf, len);
}

void fake_driver_config_write(struct fake_driver *d, uint32_t off,
			      const void *buf, unsigned len)
{
	bus_write(d->bus, d->base + VIRTIO_MMIO_CONFIG + off, buf, len);
}

int fake_driver_probe(struct fake_driver *d)
{
	if (fake_driver_read(d, VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976 ||
	    fake_driver_read(d, VIRTIO_MMIO_VERSION) != 2)
		return -ENODEV;
	uint32_t id = fake_driver_read(d, VIRTIO_MMIO_DEVICE_ID);
	return id ? (int)id : -ENODEV;
}

uint32_t fake_driver_status(struct fake_driver *d)
{
	return fake_driver_read(d, VIRTIO_MMIO_STATUS);
}

void fake_driver_add_status(struct fake_driver *d, uint32_t bits)
{
	fake_driver_write(d, VIRTIO_MMIO_STATUS, fake_driver_status(d) | bits);
}

void fake_driver_reset(struct fake_driver *d)
{
	fake_driver_write(d, VIRTIO_MMIO_STATUS, 0);
	/* The device may take time to reset (4.2.3.1.1 reads it back). */
	for (int i = 0; i < 1000 && fake_driver_status(d); i++)
		;
	for (unsigned q = 0; q < FAKE_DRIVER_MAX_QUEUES; q++)
		d->q[q].size = 0;
	d->features = 0;
}

uint64_t fake_driver_device_features(struct fake_driver *d)
{
	fake_driver_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = fake_driver_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	fake_driver_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return hi << 32 | fake_driver_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

void fake_driver_write_features(struct fake_driver *d, uint64_t features)
{
	fake_driver_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fake_driver_write(d, VIRTIO_MMIO_DRIVER_FEATURES,
			  (uint32_t)(features >> 32));
	fake_driver_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fake_driver_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
}

int fake_driver_negotiate(struct fake_driver *d, uint64_t supported)
{
	fake_driver_reset(d);
	fake_driver_add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	fake_driver_add_status(d, VIRTIO_CONFIG_S_DRIVER);
	uint64_t features = fake_driver_device_features(d) & supported;
	fake_driver_write_features(d, features);
	fake_driver_add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(fake_driver_status(d) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		fake_driver_add_status(d, VIRTIO_CONFIG_S_FAILED);
		return -EIO;
	}
	d->features = features;
	return 0;
}

static void fake_driver_queue_layout(struct fake_driver *d, unsigned q,
				     uint16_t size, uint64_t desc,
				     uint64_t avail, uint64_t used)
{
	struct fake_driver_queue *vq = &d->q[q];

	memset(vq, 0, sizeof(*vq));
	vq->size = size;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->num_free = size;
	for (unsigned i = 0; i + 1 < size; i++)
		vq->next[i] = (uint16_t)(i + 1);
}

void fake_driver_setup_queue_at(struct fake_driver *d, unsigned q,
				uint32_t size, uint64_t desc, uint64_t avail,
				uint64_t used)
{
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH,
			  (uint32_t)(desc >> 32));
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
			  (uint32_t)(avail >> 32));
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_USED_HIGH,
			  (uint32_t)(used >> 32));
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (q < FAKE_DRIVER_MAX_QUEUES)
		fake_driver_queue_layout(d, q,
					 (uint16_t)MIN(size, VIRTQ_MAX_SIZE),
					 desc, avail, used);
}

int fake_driver_setup_queue(struct fake_driver *d, unsigned q, uint16_t size)
{
	if (q >= FAKE_DRIVER_MAX_QUEUES)
		return -ENOENT;
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	if (fake_driver_read(d, VIRTIO_MMIO_QUEUE_READY))
		return -ENOENT;
	uint32_t max = fake_driver_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		return -ENOENT;
	if (size == 0 || size > max)
		size = (uint16_t)MIN(max, VIRTQ_MAX_SIZE);
	uint64_t desc = fake_driver_alloc(d, 16ULL * size, 4096);
	uint64_t avail = fake_driver_alloc(d, 6 + 2ULL * size, 64);
	uint64_t used = fake_driver_alloc(d, 6 + 8ULL * size, 64);
	if (!desc || !avail || !used)
		return -ENOMEM;
	fake_driver_setup_queue_at(d, q, size, desc, avail, used);
	return 0;
}

void fake_driver_set_driver_ok(struct fake_driver *d)
{
	fake_driver_add_status(d, VIRTIO_CONFIG_S_DRIVER_OK);
}

static bool fake_driver_event_idx(const struct fake_driver *d)
{
	return d->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
}

/* Rings a hostile layout left misaligned are not touched: the device
 * refuses such a queue anyway. */
static struct vring_avail *fake_driver_avail(struct fake_driver *d,
					     struct fake_driver_queue *vq)
{
	struct vring_avail *p =
		fake_driver_ptr(d, vq->avail_gpa, 6 + 2ULL * vq->size);
	return (uintptr_t)p % 2 ? NULL : p;
}

static struct vring_used *fake_driver_used(struct fake_driver *d,
					   struct fake_driver_queue *vq)
{
	struct vring_used *p =
		fake_driver_ptr(d, vq->used_gpa, 6 + 8ULL * vq->size);
	return (uintptr_t)p % 4 ? NULL : p;
}

void fake_driver_set_desc(struct fake_driver *d, unsigned q, uint16_t idx,
			  uint64_t addr, uint32_t len, uint16_t flags,
			  uint16_t next)
{
	void *p = fake_driver_ptr(d, d->q[q].desc_gpa + 16ULL * idx, 16);
	struct vring_desc desc = {htole64(addr), htole32(len), htole16(flags),
				  htole16(next)};
	if (p) /* memcpy: a hostile table may be misaligned */
		memcpy(p, &desc, sizeof(desc));
}

void fake_driver_set_avail_idx(struct fake_driver *d, unsigned q, uint16_t idx)
{
	struct vring_avail *avail = fake_driver_avail(d, &d->q[q]);
	if (!avail)
		return;
	d->q[q].avail_idx = idx;
	/* Descriptors and ring entries before idx (2.7.13.3). */
	__atomic_store_n(&avail->idx, htole16(idx), __ATOMIC_RELEASE);
}

void fake_driver_publish_head(struct fake_driver *d, unsigned q, uint16_t head)
{
	struct fake_driver_queue *vq = &d->q[q];
	struct vring_avail *avail = fake_driver_avail(d, vq);
	if (!avail || !vq->size)
		return;
	avail->ring[vq->avail_idx % vq->size] = htole16(head);
	fake_driver_set_avail_idx(d, q, (uint16_t)(vq->avail_idx + 1));
}

/* Takes n descriptors off the free list, linked through next[]. */
static int fake_driver_take(struct fake_driver_queue *vq, unsigned n)
{
	if (n == 0 || n > vq->num_free)
		return -ENOSPC;
	uint16_t head = vq->free_head, last = head;
	for (unsigned i = 1; i < n; i++)
		last = vq->next[last];
	vq->free_head = vq->next[last];
	vq->num_free -= n;
	vq->chain_len[head] = (uint16_t)n;
	return head;
}

int fake_driver_add(struct fake_driver *d, unsigned q,
		    const struct fake_driver_sg *sg, unsigned out, unsigned in)
{
	struct fake_driver_queue *vq = &d->q[q];
	unsigned n = out + in;
	int head = fake_driver_take(vq, n);
	if (head < 0)
		return head;
	uint16_t i = (uint16_t)head;
	for (unsigned k = 0; k < n; k++) {
		uint16_t flags = (k >= out ? VRING_DESC_F_WRITE : 0) |
				 (k + 1 < n ? VRING_DESC_F_NEXT : 0);
		fake_driver_set_desc(d, q, i, sg[k].gpa, sg[k].len, flags,
				     k + 1 < n ? vq->next[i] : 0);
		i = vq->next[i];
	}
	fake_driver_publish_head(d, q, (uint16_t)head);
	return head;
}

int fake_driver_add_indirect(struct fake_driver *d, unsigned q,
			     const struct fake_driver_sg *sg, unsigned out,
			     unsigned in)
{
	struct fake_driver_queue *vq = &d->q[q];
	unsigned n = out + in;
	if (n == 0 || n > FAKE_DRIVER_INDIRECT_MAX)
		return -EINVAL;
	int head = fake_driver_take(vq, 1);
	if (head < 0)
		return head;
	uint64_t *table = &vq->indirect_gpa[head];
	if (!*table)
		*table =
			fake_driver_alloc(d, 16 * FAKE_DRIVER_INDIRECT_MAX, 16);
	struct vring_desc *t = fake_driver_ptr(d, *table, 16ULL * n);
	if (!t) {
		vq->chain_len[head] = 0;
		vq->free_head = (uint16_t)head;
		vq->num_free++;
		return -ENOMEM;
	}
	for (unsigned k = 0; k < n; k++) {
		t[k].addr = htole64(sg[k].gpa);
		t[k].len = htole32(sg[k].len);
		t[k].flags = htole16((k >= out ? VRING_DESC_F_WRITE : 0) |
				     (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		t[k].next = htole16(k + 1 < n ? k + 1 : 0);
	}
	fake_driver_set_desc(d, q, (uint16_t)head, *table, 16 * n,
			     VRING_DESC_F_INDIRECT, 0);
	fake_driver_publish_head(d, q, (uint16_t)head);
	return head;
}

void fake_driver_notify(struct fake_driver *d, unsigned q)
{
	fake_driver_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

bool fake_driver_kick(struct fake_driver *d, unsigned q)
{
	struct fake_driver_queue *vq = &d->q[q];
	struct vring_used *used = fake_driver_used(d, vq);
	uint16_t old = vq->kicked_idx, new = vq->avail_idx;
	bool need;

	vq->kicked_idx = new;
	/* avail->idx visible before reading the device's suppression. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!used)
		need = true;
	else if (fake_driver_event_idx(d)) {
		/* avail_event follows the used ring (2.7.8). */
		uint16_t *ev = fake_driver_ptr(
			d, vq->used_gpa + 4 + 8ULL * vq->size, 2);
		need = vring_need_event(
			le16toh(__atomic_load_n(ev, __ATOMIC_RELAXED)), new,
			old);
	} else {
		need = !(le16toh(__atomic_load_n(&used->flags,
						 __ATOMIC_RELAXED)) &
			 VRING_USED_F_NO_NOTIFY);
	}
	if (need)
		fake_driver_notify(d, q);
	return need;
}

static void fake_driver_set_used_event(struct fake_driver *d,
				       struct fake_driver_queue *vq, uint16_t v)
{
	struct vring_avail *avail = fake_driver_avail(d, vq);
	if (avail)
		__atomic_store_n(&avail->ring[vq->size], htole16(v),
				 __ATOMIC_SEQ_CST);
}

int fake_driver_get_used(struct fake_driver *d, unsigned q, uint32_t *len)
{
	struct fake_driver_queue *vq = &d->q[q];
	struct vring_used *used = fake_driver_used(d, vq);
	if (!used || !vq->size)
		return -EAGAIN;
	/* Acquire pairs with the device's release of used->idx. */
	uint16_t idx = le16toh(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE));
	if (idx == vq->last_used)
		return -EAGAIN;
	struct vring_used_elem e = used->ring[vq->last_used % vq->size];
	uint32_t head = le32toh(e.id);
	if (head >= vq->size || !vq->chain_len[head])
		return -EPROTO;
	vq->last_used++;
	if (len)
		*len = le32toh(e.len);
	/* Return the chain to the free list. */
	uint16_t last = (uint16_t)head;
	for (unsigned i = 1; i < vq->chain_len[head]; i++)
		last = vq->next[last];
	vq->next[last] = vq->free_head;
	vq->free_head = (uint16_t)head;
	vq->num_free += vq->chain_len[head];
	vq->chain_len[head] = 0;
	/* Ask for an interrupt at the next used entry (2.7.10). */
	if (fake_driver_event_idx(d) && !vq->cb_disabled)
		fake_driver_set_used_event(d, vq, vq->last_used);
	return (int)head;
}

void fake_driver_disable_cb(struct fake_driver *d, unsigned q)
{
	struct fake_driver_queue *vq = &d->q[q];
	struct vring_avail *avail = fake_driver_avail(d, vq);
	vq->cb_disabled = true;
	if (!avail)
		return;
	avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	/* With event idx the flag is ignored: move used_event out of reach. */
	if (fake_driver_event_idx(d))
		fake_driver_set_used_event(d, vq,
					   (uint16_t)(vq->last_used + 0x8000));
}

bool fake_driver_enable_cb(struct fake_driver *d, unsigned q)
{
	struct fake_driver_queue *vq = &d->q[q];
	struct vring_avail *avail = fake_driver_avail(d, vq);
	struct vring_used *used = fake_driver_used(d, vq);
	vq->cb_disabled = false;
	if (!avail || !used)
		return false;
	avail->flags = 0;
	fake_driver_set_used_event(d, vq, vq->last_used);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE)) !=
	       vq->last_used;
}

uint32_t fake_driver_ack_irq(struct fake_driver *d)
{
	uint32_t isr = fake_driver_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr)
		fake_driver_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}
