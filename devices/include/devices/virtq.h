/* Split virtqueue (virtio 1.2 section 2.7), device side. Knows nothing of any
 * device. Every guest address goes through gmem; a malformed ring or chain is
 * reported as -EINVAL and the caller marks the device NEEDS_RESET.
 * Threads: main loop only (the transport's lock is held). */
#ifndef DEVICES_VIRTQ_H
#define DEVICES_VIRTQ_H

#include <core/gmem.h>

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

#define VIRTQ_MAX_SIZE 1024
/* Longest chain we walk, direct and indirect descriptors together. */
#define VIRTQ_CHAIN_MAX 256

struct virtq_seg {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable (VIRTQ_DESC_F_WRITE) */
};

/* Guest-physical bytes [gpa, gpa + len). */
struct virtq_range {
	uint64_t gpa, len;
};

/* A split queue has three rings: descriptor table, avail and used. */
#define VIRTQ_NR_RINGS 3

struct virtq_chain {
	uint16_t head;
	uint16_t nr_segs;
	uint32_t read_bytes;  /* total of driver-to-device segments */
	uint32_t write_bytes; /* total of device-writable segments */
	struct virtq_seg segs[VIRTQ_CHAIN_MAX];
};

struct virtq {
	/* Set by the transport from the driver's registers. */
	uint16_t size;
	bool ready; /* set by virtq_activate(), cleared by QueueReady=0/reset */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Set by virtq_activate(): the rings' host addresses, translated and
	 * bounds-checked once (gmem regions never move after start). */
	const struct gmem *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	bool event_idx;     /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;      /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
	uint16_t last_avail; /* next avail index to pop */
	uint16_t used_idx;   /* next used index to write (private copy) */
	uint16_t signalled_used; /* used_idx at the last notification */
	bool signalled_valid;
	bool signalled_answer; /* needs_notify's answer for signalled_used */
	/* Counters for metrics. */
	uint64_t popped, malformed;
};

/* Validates size (power of two, <= max) and that the three rings lie in
 * guest RAM with the alignment the spec requires (2.7); caches feature bits
 * and sets ready. 0 or -EINVAL (the queue is then left not ready). */
int virtq_activate(struct virtq *vq, const struct gmem *mem, uint16_t max_size,
		   uint64_t features);
/* Forgets everything (device reset). */
void virtq_reset(struct virtq *vq);
/* Where the rings of a queue of vq->size entries lie, as the driver placed
 * them (desc_gpa, avail_gpa, used_gpa), event fields included whatever the
 * features (2.7.6, 2.7.8): what the device reads and writes. Ready or not. */
void virtq_rings(const struct virtq *vq,
		 struct virtq_range out[VIRTQ_NR_RINGS]);

/* Pops the next available chain into *chain: 1 popped, 0 queue empty (or not
 * ready), -EINVAL malformed (avail idx too far ahead, bad index, loop, chain
 * longer than the queue or VIRTQ_CHAIN_MAX, out-of-RAM or wrapping address,
 * bad or nested indirect table, readable after writable): the caller must
 * stop using the queue and request a reset; the chain is not consumed.
 * With event idx, returning 0 re-arms avail_event, so a device that pops
 * until 0 never misses a kick. */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain);
/* Adds a used element for head with len bytes written. Publishes used->idx
 * with a release fence so the guest sees the element first. 0, or -EINVAL
 * when the queue is not ready or head is out of range. */
int virtq_push_used(struct virtq *vq, uint16_t head, uint32_t len);
/* After one or more pushes: whether the driver wants an interrupt
 * (VIRTQ_AVAIL_F_NO_INTERRUPT or used_event, section 2.7.10). Asking again
 * with no push in between gives the same answer. Devices need not call it:
 * virtio_host.notify_queue does. */
bool virtq_needs_notify(struct virtq *vq);
/* One line for a hang dump: the driver's avail idx against the next the
 * device pops, used idx, both event fields, avail flags. snprintf's result. */
int virtq_describe(const struct virtq *vq, char *buf, size_t len);
/* Copies up to len bytes from a chain's driver-readable segments starting at
 * byte offset off; returns bytes copied or -EFAULT. */
int virtq_chain_read(const struct virtq *vq, const struct virtq_chain *chain,
		     uint32_t off, void *dst, uint32_t len);
/* Copies up to len bytes into a chain's device-writable segments starting at
 * byte offset off (counted from the first writable byte); returns bytes
 * copied or -EFAULT. */
int virtq_chain_write(const struct virtq *vq, const struct virtq_chain *chain,
		      uint32_t off, const void *src, uint32_t len);

#endif
