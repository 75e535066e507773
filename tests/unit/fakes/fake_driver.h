/* fake_driver: the guest side of virtio for tests, fuzzers and benchmarks.
 * It behaves like Linux's virtio_mmio + virtio_ring (split ring) drivers: it
 * reaches the device only through 32-bit MMIO reads/writes on a struct bus,
 * and it lays out its descriptor table, avail and used rings in fake guest
 * memory (any gmem, e.g. gmem_init_external() on a host buffer), allocating
 * from a heap range the test gives it.
 *
 * A well-behaved driver: _probe, _negotiate, _setup_queue for each queue,
 * _set_driver_ok, then _add/_add_indirect + _kick, and _get_used after the
 * device's interrupt (_ack_irq). _reset starts over. A hostile one:
 * _write_features, _setup_queue_at with any values, _set_desc/_publish_head
 * to write arbitrary rings.
 *
 * Typical use:
 *   gmem_init_external(&mem, 0, buf, len);
 *   bus_insert(&bus, BASE, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, &t);
 *   fake_driver_init(&d, &bus, BASE, &mem, heap_gpa, heap_len);
 *   fake_driver_negotiate(&d, wanted_features);
 *   fake_driver_setup_queue(&d, 0, 0);
 *   fake_driver_set_driver_ok(&d);
 *   uint64_t buf = fake_driver_alloc(&d, 4096, 8);
 *   fake_driver_add(&d, 0, &(struct fake_driver_sg){buf, 4096}, 1, 0);
 *   fake_driver_kick(&d, 0);
 *
 * Threads: one; the caller drives the device (inline notify or
 * virtio_mmio_queue_event) between calls. */
#ifndef FAKE_DRIVER_H
#define FAKE_DRIVER_H

#include <core/gmem.h>
#include <devices/bus.h>
#include <devices/virtq.h>

#include <stdbool.h>
#include <stdint.h>

#define FAKE_DRIVER_MAX_QUEUES 8
#define FAKE_DRIVER_INDIRECT_MAX 64 /* entries per indirect table */

struct fake_driver_sg {
	uint64_t gpa;
	uint32_t len;
};

struct fake_driver_queue {
	uint16_t size; /* 0: not set up */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx;  /* driver's copy of avail->idx */
	uint16_t kicked_idx; /* avail_idx at the last kick decision */
	uint16_t last_used;  /* next used entry to read */
	uint16_t free_head, num_free;
	uint16_t next[VIRTQ_MAX_SIZE];      /* free list and chain links */
	uint16_t chain_len[VIRTQ_MAX_SIZE]; /* per head in flight, 0 = free */
	uint64_t indirect_gpa[VIRTQ_MAX_SIZE]; /* per head, lazily allocated */
	bool cb_disabled;
};

struct fake_driver {
	const struct bus *bus;
	uint64_t base;
	const struct gmem *mem;
	uint64_t heap_next, heap_end;
	uint64_t features; /* negotiated */
	struct fake_driver_queue q[FAKE_DRIVER_MAX_QUEUES];
};

void fake_driver_init(struct fake_driver *d, const struct bus *bus,
		      uint64_t base, const struct gmem *mem, uint64_t heap_gpa,
		      uint64_t heap_len);

/* Guest memory helpers. fake_driver_alloc returns 0 when the heap is exhausted.
 */
uint64_t fake_driver_alloc(struct fake_driver *d, uint64_t len, uint64_t align);
void *fake_driver_ptr(struct fake_driver *d, uint64_t gpa, uint64_t len);

/* Raw register access, 32 bits at offset off of the device. */
uint32_t fake_driver_read(struct fake_driver *d, uint32_t off);
void fake_driver_write(struct fake_driver *d, uint32_t off, uint32_t val);
/* Device config window (off from 0x100), any width. */
void fake_driver_config_read(struct fake_driver *d, uint32_t off, void *buf,
			     unsigned len);
void fake_driver_config_write(struct fake_driver *d, uint32_t off,
			      const void *buf, unsigned len);

/* Device id, or -ENODEV for a bad magic/version or id 0 (4.2.3.1.1). */
int fake_driver_probe(struct fake_driver *d);
uint32_t fake_driver_status(struct fake_driver *d);
/* Status |= bits, as Linux's virtio_add_status. */
void fake_driver_add_status(struct fake_driver *d, uint32_t bits);
/* Writes 0 and waits for Status to read 0; forgets driver queue state. */
void fake_driver_reset(struct fake_driver *d);
uint64_t fake_driver_device_features(struct fake_driver *d);
/* Writes DriverFeatures (both halves), nothing else. */
void fake_driver_write_features(struct fake_driver *d, uint64_t features);
/* Reset, ACKNOWLEDGE, DRIVER, features = offer & supported, FEATURES_OK and
 * re-read it. 0, or -EIO (and FAILED set) when the device refused. */
int fake_driver_negotiate(struct fake_driver *d, uint64_t supported);

/* Like vm_setup_vq: size 0 means QueueNumMax; allocates the rings and
 * enables the queue. 0, -ENOENT (no such queue / already ready), -ENOMEM.
 * Does not check that the device accepted (read QueueReady for that). */
int fake_driver_setup_queue(struct fake_driver *d, unsigned q, uint16_t size);
/* Writes the queue registers with exactly these values, then QueueReady=1;
 * records them as the driver's ring layout. */
void fake_driver_setup_queue_at(struct fake_driver *d, unsigned q,
				uint32_t size, uint64_t desc, uint64_t avail,
				uint64_t used);
void fake_driver_set_driver_ok(struct fake_driver *d);

/* Adds a buffer: out device-readable segments then in device-writable ones,
 * as direct descriptors or one indirect table. Head, or -ENOSPC. */
int fake_driver_add(struct fake_driver *d, unsigned q,
		    const struct fake_driver_sg *sg, unsigned out, unsigned in);
int fake_driver_add_indirect(struct fake_driver *d, unsigned q,
			     const struct fake_driver_sg *sg, unsigned out,
			     unsigned in);
/* Notifies the device if it asked to be (event idx / VRING_USED_F_NO_NOTIFY,
 * like virtqueue_kick_prepare); returns whether it wrote QueueNotify. */
bool fake_driver_kick(struct fake_driver *d, unsigned q);
/* Writes QueueNotify unconditionally. */
void fake_driver_notify(struct fake_driver *d, unsigned q);
/* Next used buffer: its head, *len set; -EAGAIN when none; -EPROTO when the
 * device returned a head that was not in flight. */
int fake_driver_get_used(struct fake_driver *d, unsigned q, uint32_t *len);
/* Interrupt suppression (virtqueue_disable_cb / enable_cb). enable returns
 * true when used buffers are already pending. */
void fake_driver_disable_cb(struct fake_driver *d, unsigned q);
bool fake_driver_enable_cb(struct fake_driver *d, unsigned q);
/* Reads InterruptStatus and acknowledges it; returns the bits. */
uint32_t fake_driver_ack_irq(struct fake_driver *d);

/* Hostile helpers: write descriptor idx of queue q's table, publish a head
 * in the avail ring, or set avail->idx to anything. */
void fake_driver_set_desc(struct fake_driver *d, unsigned q, uint16_t idx,
			  uint64_t addr, uint32_t len, uint16_t flags,
			  uint16_t next);
void fake_driver_publish_head(struct fake_driver *d, unsigned q, uint16_t head);
void fake_driver_set_avail_idx(struct fake_driver *d, unsigned q, uint16_t idx);

#endif
