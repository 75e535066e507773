/* Split virtqueue, device side (virtio 1.2 section 2.7). The guest writes the
 * rings concurrently: every descriptor is copied out once, then validated,
 * and only the copy is used. */
#include <devices/virtq.h>

#include <core/checked.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define VIRTQ_DESC_SIZE sizeof(struct vring_desc)

void virtq_rings(const struct virtq *vq,
		 struct virtq_range out[VIRTQ_NR_RINGS])
{
	uint64_t n = vq->size;
	/* flags, idx, ring[n], then used_event / avail_event (2.7.6, 2.7.8). */
	out[0] = (struct virtq_range){vq->desc_gpa, VIRTQ_DESC_SIZE * n};
	out[1] = (struct virtq_range){vq->avail_gpa, 6 + 2 * n};
	out[2] = (struct virtq_range){vq->used_gpa, 6 + 8 * n};
}

int virtq_activate(struct virtq *vq, const struct gmem *mem, uint16_t max_size,
		   uint64_t features)
{
	uint64_t n = vq->size;
	struct virtq_range r[VIRTQ_NR_RINGS];

	vq->ready = false;
	if (!mem || !IS_POW2(n) || n > max_size || n > VIRTQ_MAX_SIZE)
		return -EINVAL;
	/* Alignment table of 2.7: desc 16, avail 2, used 4. */
	if (vq->desc_gpa % VRING_DESC_ALIGN_SIZE ||
	    vq->avail_gpa % VRING_AVAIL_ALIGN_SIZE ||
	    vq->used_gpa % VRING_USED_ALIGN_SIZE)
		return -EINVAL;
	virtq_rings(vq, r);
	void *desc = gmem_ptr(mem, r[0].gpa, r[0].len);
	void *avail = gmem_ptr(mem, r[1].gpa, r[1].len);
	void *used = gmem_ptr(mem, r[2].gpa, r[2].len);
	if (!desc || !avail || !used)
		return -EINVAL;
	/* Ring indices are accessed atomically: host addresses must be as
	 * aligned as the guest's (true for page-aligned regions). */
	if ((uintptr_t)avail % 2 || (uintptr_t)used % 4)
		return -EINVAL;
	vq->mem = mem;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->signalled_answer = false;
	vq->ready = true;
	return 0;
}

void virtq_reset(struct virtq *vq) { memset(vq, 0, sizeof(*vq)); }

static uint16_t virtq_avail_idx(const struct virtq *vq)
{
	/* Acquire pairs with the driver's write barrier before avail->idx
	 * (2.7.13.3): ring entries and descriptors are read after it. */
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

/* avail_event lives after the used ring's last element (2.7.8). */
static uint16_t *virtq_avail_event(const struct virtq *vq)
{
	return (uint16_t *)((uint8_t *)vq->used + 4 + 8 * (size_t)vq->size);
}

/* used_event lives after the avail ring's last element (2.7.6). */
static uint16_t *virtq_used_event(const struct virtq *vq)
{
	return (uint16_t *)((uint8_t *)vq->avail + 4 + 2 * (size_t)vq->size);
}

static int virtq_add_seg(const struct virtq *vq, struct virtq_chain *c,
			 const struct vring_desc *d)
{
	uint64_t gpa = le64toh(d->addr);
	uint32_t len = le32toh(d->len);
	bool write = le16toh(d->flags) & VRING_DESC_F_WRITE;

	if (c->nr_segs >= VIRTQ_CHAIN_MAX)
		return -EINVAL;
	/* gmem_ptr rejects wrapping ranges and ranges outside one region. */
	if (!gmem_ptr(vq->mem, gpa, len))
		return -EINVAL;
	/* Device-readable descriptors come first (2.7.4.2). */
	if (!write && c->nr_segs && c->segs[c->nr_segs - 1].write)
		return -EINVAL;
	/* A chain is at most 2^32 bytes (2.7.5.1). */
	uint32_t *total = write ? &c->write_bytes : &c->read_bytes;
	if (__builtin_add_overflow(*total, len, total))
		return -EINVAL;
	c->segs[c->nr_segs++] = (struct virtq_seg){gpa, len, write};
	return 0;
}

static int virtq_walk_indirect(const struct virtq *vq, struct virtq_chain *c,
			       const struct vring_desc *ind);

/* Follows a chain from entry i of a table of n descriptors: the queue's own
 * or an indirect one (nested: no INDIRECT inside, 2.7.5.3.1). No chain is
 * longer than its table, so more steps than entries is a loop;
 * virtq_add_seg caps the whole chain at VIRTQ_CHAIN_MAX. */
static int virtq_walk_table(const struct virtq *vq, struct virtq_chain *c,
			    const uint8_t *table, uint32_t n, uint32_t i,
			    bool nested)
{
	for (uint32_t steps = 0;;) {
		struct vring_desc d;
		if (i >= n || ++steps > n)
			return -EINVAL;
		memcpy(&d, table + (size_t)i * VIRTQ_DESC_SIZE, sizeof(d));
		uint16_t flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			/* INDIRECT with NEXT is forbidden, so it ends the
			 * chain (2.7.5.3.1). */
			if (nested || (flags & VRING_DESC_F_NEXT))
				return -EINVAL;
			return virtq_walk_indirect(vq, c, &d);
		}
		int err = virtq_add_seg(vq, c, &d);
		if (err)
			return err;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16toh(d.next);
	}
}

/* An indirect table: 16-byte entries, next within the table. */
static int virtq_walk_indirect(const struct virtq *vq, struct virtq_chain *c,
			       const struct vring_desc *ind)
{
	uint64_t gpa = le64toh(ind->addr);
	uint32_t len = le32toh(ind->len);

	if (!vq->indirect || len == 0 || len % VIRTQ_DESC_SIZE)
		return -EINVAL;
	const uint8_t *table = gmem_ptr(vq->mem, gpa, len);
	if (!table)
		return -EINVAL;
	return virtq_walk_table(vq, c, table, len / VIRTQ_DESC_SIZE, 0, true);
}

static int virtq_walk(const struct virtq *vq, uint16_t head,
		      struct virtq_chain *c)
{
	c->head = head;
	c->nr_segs = 0;
	c->read_bytes = 0;
	c->write_bytes = 0;
	return virtq_walk_table(vq, c, (const uint8_t *)vq->desc, vq->size,
				head, false);
}

int virtq_pop(struct virtq *vq, struct virtq_chain *chain)
{
	if (!vq->ready)
		return 0;
	uint16_t avail_idx = virtq_avail_idx(vq);
	if (avail_idx == vq->last_avail) {
		if (!vq->event_idx)
			return 0;
		/* Ask for a kick at the next entry, then look again: the
		 * driver may have added one before it saw avail_event
		 * (2.7.10; full barrier between the write and the re-read). */
		__atomic_store_n(virtq_avail_event(vq), htole16(vq->last_avail),
				 __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = virtq_avail_idx(vq);
		if (avail_idx == vq->last_avail)
			return 0;
	}
	/* The driver can be at most a queue's worth ahead. */
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size)
		goto malformed;
	uint16_t slot = vq->last_avail & (vq->size - 1);
	uint16_t head = le16toh(__atomic_load_n(&vq->avail->ring[slot],
						__ATOMIC_RELAXED));
	if (virtq_walk(vq, head, chain))
		goto malformed;
	vq->last_avail++;
	vq->popped++;
	return 1;
malformed:
	vq->malformed++;
	return -EINVAL;
}

int virtq_push_used(struct virtq *vq, uint16_t head, uint32_t len)
{
	if (!vq->ready || head >= vq->size)
		return -EINVAL;
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element is visible before the new idx (2.7.8.2). */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx),
			 __ATOMIC_RELEASE);
	return 0;
}

bool virtq_needs_notify(struct virtq *vq)
{
	if (!vq->ready)
		return false;
	/* used->idx must be visible before we read the driver's suppression
	 * state, or both sides may skip the interrupt (2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx) {
		uint16_t flags = le16toh(
			__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED));
		return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
	}
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_valid;
	/* Nothing pushed since the last question: same answer, or a caller
	 * that checks before virtio_host.notify_queue checks loses it. */
	if (valid && new == old)
		return vq->signalled_answer;
	vq->signalled_used = new;
	vq->signalled_valid = true;
	uint16_t event = le16toh(
		__atomic_load_n(virtq_used_event(vq), __ATOMIC_RELAXED));
	vq->signalled_answer = !valid || vring_need_event(event, new, old);
	return vq->signalled_answer;
}

/* Copies between a host buffer and the chain's segments of one direction,
 * starting off bytes into that direction's bytes. */
static int virtq_chain_copy(const struct virtq *vq,
			    const struct virtq_chain *chain, bool write,
			    uint32_t off, void *buf, uint32_t len)
{
	uint32_t done = 0;

	if (!vq->mem)
		return -EFAULT;
	len = MIN(len, (uint32_t)INT32_MAX); /* the count is returned as int */
	for (unsigned i = 0; i < chain->nr_segs && done < len; i++) {
		const struct virtq_seg *s = &chain->segs[i];
		if (s->write != write)
			continue;
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		uint32_t n = MIN(s->len - off, len - done);
		int err = write ? gmem_write(vq->mem, s->gpa + off,
					     (uint8_t *)buf + done, n)
				: gmem_read(vq->mem, s->gpa + off,
					    (uint8_t *)buf + done, n);
		if (err)
			return err;
		done += n;
		off = 0;
	}
	return (int)done;
}

int virtq_chain_read(const struct virtq *vq, const struct virtq_chain *chain,
		     uint32_t off, void *dst, uint32_t len)
{
	return virtq_chain_copy(vq, chain, false, off, dst, len);
}

int virtq_chain_write(const struct virtq *vq, const struct virtq_chain *chain,
		      uint32_t off, const void *src, uint32_t len)
{
	return virtq_chain_copy(vq, chain, true, off, (void *)src, len);
}

int virtq_describe(const struct virtq *vq, char *buf, size_t len)
{
	if (!vq->ready)
		return snprintf(buf, len, "not ready");
	uint16_t avail = virtq_avail_idx(vq);
	uint16_t flags = le16toh(
		__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED));
	uint16_t used_event = le16toh(
		__atomic_load_n(virtq_used_event(vq), __ATOMIC_RELAXED));
	uint16_t avail_event = le16toh(
		__atomic_load_n(virtq_avail_event(vq), __ATOMIC_RELAXED));
	/* The ring's own idx too: what the driver reads, not our copy. */
	uint16_t used_ring = le16toh(
		__atomic_load_n(&vq->used->idx, __ATOMIC_RELAXED));
	return snprintf(buf, len,
			"size %u avail %u next %u (%u waiting) used %u (in "
			"the ring %u) avail_event %u used_event %u "
			"avail_flags 0x%x%s",
			vq->size, avail, vq->last_avail,
			(uint16_t)(avail - vq->last_avail), vq->used_idx,
			used_ring, avail_event, used_event, flags,
			vq->event_idx ? " event_idx" : "");
}
