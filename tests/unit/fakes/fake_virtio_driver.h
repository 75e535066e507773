/* fvd: a fake virtio driver for tests, fuzzers and benchmarks. It behaves
 * like Linux's virtio_mmio + virtio_ring (split ring) drivers: it reaches
 * the device only through 32-bit MMIO reads/writes on a struct bus, and it
 * lays out its descriptor table, avail and used rings in fake guest memory
 * (any gmem, e.g. gmem_init_external() on a host buffer), allocating from a
 * heap range the test gives it.
 *
 * A well-behaved driver: fvd_probe, fvd_negotiate, fvd_setup_queue for each
 * queue, fvd_driver_ok, then fvd_add/fvd_add_indirect + fvd_kick, and
 * fvd_get_used after the device's interrupt (fvd_ack_irq). fvd_reset starts
 * over. A hostile one: fvd_write_features, fvd_setup_queue_at with any
 * values, fvd_set_desc/fvd_publish_head to write arbitrary rings.
 *
 * Typical use:
 *   gmem_init_external(&mem, 0, buf, len);
 *   bus_insert(&bus, BASE, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, &t);
 *   fvd_init(&d, &bus, BASE, &mem, heap_gpa, heap_len);
 *   fvd_negotiate(&d, wanted_features); fvd_setup_queue(&d, 0, 0);
 *   fvd_driver_ok(&d);
 *   uint64_t buf = fvd_alloc(&d, 4096, 8);
 *   fvd_add(&d, 0, &(struct fvd_sg){buf, 4096}, 1, 0); fvd_kick(&d, 0);
 *
 * Threads: one; the caller drives the device (inline notify or
 * virtio_mmio_queue_event) between calls. */
#ifndef FAKE_VIRTIO_DRIVER_H
#define FAKE_VIRTIO_DRIVER_H

#include <core/gmem.h>
#include <devices/bus.h>
#include <devices/virtq.h>

#include <stdbool.h>
#include <stdint.h>

#define FVD_MAX_QUEUES 8
#define FVD_INDIRECT_MAX 64 /* entries per indirect table */

struct fvd_sg {
	uint64_t gpa;
	uint32_t len;
};

struct fvd_queue {
	uint16_t size; /* 0: not set up */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx;   /* driver's copy of avail->idx */
	uint16_t kicked_idx;  /* avail_idx at the last kick decision */
	uint16_t last_used;   /* next used entry to read */
	uint16_t free_head, num_free;
	uint16_t next[VIRTQ_MAX_SIZE];      /* free list and chain links */
	uint16_t chain_len[VIRTQ_MAX_SIZE]; /* per head in flight, 0 = free */
	uint64_t indirect_gpa[VIRTQ_MAX_SIZE]; /* per head, lazily allocated */
	bool cb_disabled;
};

struct fvd {
	const struct bus *bus;
	uint64_t base;
	const struct gmem *mem;
	uint64_t heap_next, heap_end;
	uint64_t features; /* negotiated */
	struct fvd_queue q[FVD_MAX_QUEUES];
};

void fvd_init(struct fvd *d, const struct bus *bus, uint64_t base,
	      const struct gmem *mem, uint64_t heap_gpa, uint64_t heap_len);

/* Guest memory helpers. fvd_alloc returns 0 when the heap is exhausted. */
uint64_t fvd_alloc(struct fvd *d, uint64_t len, uint64_t align);
void *fvd_ptr(struct fvd *d, uint64_t gpa, uint64_t len);

/* Raw register access, 32 bits at offset off of the device. */
uint32_t fvd_read(struct fvd *d, uint32_t off);
void fvd_write(struct fvd *d, uint32_t off, uint32_t val);
/* Device config window (off from 0x100), any width. */
void fvd_config_read(struct fvd *d, uint32_t off, void *buf, unsigned len);
void fvd_config_write(struct fvd *d, uint32_t off, const void *buf,
		      unsigned len);

/* Device id, or -ENODEV for a bad magic/version or id 0 (4.2.3.1.1). */
int fvd_probe(struct fvd *d);
uint32_t fvd_status(struct fvd *d);
/* Status |= bits, as Linux's virtio_add_status. */
void fvd_add_status(struct fvd *d, uint32_t bits);
/* Writes 0 and waits for Status to read 0; forgets driver queue state. */
void fvd_reset(struct fvd *d);
uint64_t fvd_device_features(struct fvd *d);
/* Writes DriverFeatures (both halves), nothing else. */
void fvd_write_features(struct fvd *d, uint64_t features);
/* Reset, ACKNOWLEDGE, DRIVER, features = offer & supported, FEATURES_OK and
 * re-read it. 0, or -EIO (and FAILED set) when the device refused. */
int fvd_negotiate(struct fvd *d, uint64_t supported);

/* Like vm_setup_vq: size 0 means QueueNumMax; allocates the rings and
 * enables the queue. 0, -ENOENT (no such queue / already ready), -ENOMEM.
 * Does not check that the device accepted (read QueueReady for that). */
int fvd_setup_queue(struct fvd *d, unsigned q, uint16_t size);
/* Writes the queue registers with exactly these values, then QueueReady=1;
 * records them as the driver's ring layout. */
void fvd_setup_queue_at(struct fvd *d, unsigned q, uint32_t size,
			uint64_t desc, uint64_t avail, uint64_t used);
void fvd_driver_ok(struct fvd *d);

/* Adds a buffer: out device-readable segments then in device-writable ones,
 * as direct descriptors or one indirect table. Head, or -ENOSPC. */
int fvd_add(struct fvd *d, unsigned q, const struct fvd_sg *sg, unsigned out,
	    unsigned in);
int fvd_add_indirect(struct fvd *d, unsigned q, const struct fvd_sg *sg,
		     unsigned out, unsigned in);
/* Notifies the device if it asked to be (event idx / VRING_USED_F_NO_NOTIFY,
 * like virtqueue_kick_prepare); returns whether it wrote QueueNotify. */
bool fvd_kick(struct fvd *d, unsigned q);
/* Writes QueueNotify unconditionally. */
void fvd_notify(struct fvd *d, unsigned q);
/* Next used buffer: its head, *len set; -EAGAIN when none; -EPROTO when the
 * device returned a head that was not in flight. */
int fvd_get_used(struct fvd *d, unsigned q, uint32_t *len);
/* Interrupt suppression (virtqueue_disable_cb / enable_cb). enable returns
 * true when used buffers are already pending. */
void fvd_disable_cb(struct fvd *d, unsigned q);
bool fvd_enable_cb(struct fvd *d, unsigned q);
/* Reads InterruptStatus and acknowledges it; returns the bits. */
uint32_t fvd_ack_irq(struct fvd *d);

/* Hostile helpers: write descriptor idx of queue q's table, publish a head
 * in the avail ring, or set avail->idx to anything. */
void fvd_set_desc(struct fvd *d, unsigned q, uint16_t idx, uint64_t addr,
		  uint32_t len, uint16_t flags, uint16_t next);
void fvd_publish_head(struct fvd *d, unsigned q, uint16_t head);
void fvd_set_avail_idx(struct fvd *d, unsigned q, uint16_t idx);

#endif
