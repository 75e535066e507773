/* virtio-mmio transport, version 2 (virtio 1.2 section 4.2): the register
 * file in front of one struct virtio_dev. Knows no particular device.
 *
 * Threads: register accesses arrive on vCPU threads through the bus, queue
 * events and device work on the main loop; one recursive mutex guards all
 * state, and every device op runs with it held.
 *
 * Queue notifications: vCPU threads never run device code. The VMM registers,
 * for each queue q < dev->max_queues, a KVM ioeventfd at
 * base + VIRTIO_MMIO_QUEUE_NOTIFY, 4 bytes, datamatch q, and calls
 * virtio_mmio_queue_event(t, q) from the main loop when it fires. A
 * QueueNotify write that still reaches the bus (no ioeventfd: tests, or a
 * value no ioeventfd matches) is handled inline, as that call.
 *
 * Interrupts: InterruptStatus bit 0 (used buffers) and bit 1 (config change)
 * are set and the irq_trigger fired for each new event; the driver clears
 * them with InterruptACK. */
#ifndef DEVICES_VIRTIO_MMIO_H
#define DEVICES_VIRTIO_MMIO_H

#include <core/gmem.h>
#include <core/irq.h>
#include <devices/bus.h>
#include <devices/virtio_dev.h>
#include <devices/virtq.h>

#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTIO_MMIO_SIZE 0x200 /* bytes of bus space per device */
#define VIRTIO_MMIO_MAX_QUEUES 8
#define VIRTIO_MMIO_VENDOR_ID_MVMM 0x4d4d564dU /* "MVMM" */

struct virtio_mmio_metrics {
	uint64_t kicks;           /* queue events handed to the device */
	uint64_t kicks_ignored;   /* before DRIVER_OK, bad queue, broken */
	uint64_t irqs;            /* interrupts fired */
	uint64_t irqs_suppressed; /* used buffers the driver asked not to hear of */
	uint64_t config_changes;
	uint64_t needs_reset;     /* DEVICE_NEEDS_RESET raised (malformed rings) */
	uint64_t bad_accesses;    /* register accesses ignored */
	uint64_t resets;          /* Status written 0 */
};

struct virtio_mmio {
	pthread_mutex_t lock; /* recursive */
	struct virtio_dev *dev;
	const struct gmem *mem;
	struct irq_trigger irq;
	struct virtio_host host; /* handed to dev->ops->activate */

	/* Register state; all of it cleared by a reset. */
	uint32_t status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;
	bool driver_features_bad; /* nonzero write to a selector >= 2 */
	uint32_t queue_sel;       /* kept as written; checked on each use */
	uint32_t shm_sel;
	uint32_t interrupt_status;
	uint32_t config_generation;
	unsigned nr_queues; /* handed to activate (ops->num_queues) */
	bool activated;     /* dev->ops->activate succeeded since the reset */
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];

	struct virtio_mmio_metrics metrics; /* survive resets */
};

/* dev must outlive t. Fails with -EINVAL when dev's queue count, queue size
 * (power of two <= VIRTQ_MAX_SIZE) or config size (<= 0x100) is unusable. */
int virtio_mmio_init(struct virtio_mmio *t, struct virtio_dev *dev,
		     const struct gmem *mem, struct irq_trigger irq);
void virtio_mmio_destroy(struct virtio_mmio *t);

/* Register with bus_insert(bus, base, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops,
 * t). Control registers take 32-bit aligned accesses only; the config window
 * at 0x100 takes 1, 2, 4 and 8 byte accesses inside dev->config_size. */
extern const struct bus_dev_ops virtio_mmio_bus_ops;

/* Main loop: queue q was kicked (its ioeventfd fired). Ignored, and counted,
 * unless DRIVER_OK is set, the device does not need a reset and q is a
 * ready queue. */
void virtio_mmio_queue_event(struct virtio_mmio *t, unsigned q);

/* A copy of the counters, taken under the lock. */
void virtio_mmio_get_metrics(struct virtio_mmio *t,
			     struct virtio_mmio_metrics *out);

/* Logs the transport's status and each queue's indices (a hang dump: a
 * queue with chains waiting and nothing in flight lost a kick). */
void virtio_mmio_dump(struct virtio_mmio *t, const char *name);

/* Formats the kernel argument announcing a device to Linux
 * ("virtio_mmio.device=512@0xd0000000:5"). Length written, or -ENOSPC. */
int virtio_mmio_cmdline_arg(char *buf, size_t size, uint64_t base,
			    unsigned irq);

/* Features the transport offers: the device's plus the ring features. */
uint64_t virtio_mmio_features_offered(struct virtio_mmio *t);

/* Enough for every queue's rings. */
#define VIRTIO_MMIO_MAX_RING_RANGES (VIRTIO_MMIO_MAX_QUEUES * VIRTQ_NR_RINGS)
/* The guest-physical ranges the device reads and writes on its own: the
 * rings of every queue the driver gave a size (ready or not), VIRTQ_NR_RINGS
 * per queue (virtq_rings). Pages the VMM writes behind KVM's dirty log. Any
 * thread; takes the lock. How many were written to out, or -ENOSPC when
 * they do not fit in max. */
int virtio_mmio_ring_ranges(struct virtio_mmio *t, struct virtq_range *out,
			    unsigned max);

/* ---- Snapshot state (virtio_mmio_state.c) ----
 * Plain-old-data images for the snapshot state file: fixed-width fields,
 * explicit zero padding, layout asserted. Metrics are not state: a restored
 * transport counts from zero.
 *
 * Restore order (the VMM, main thread, guest memory already loaded, vCPUs
 * not started, every device freshly initialised with the saved config):
 *   1. virtio_mmio_restore(t, st) for each transport: registers and queues
 *      come back; with DRIVER_OK the device is activated as on the driver's
 *      DRIVER_OK (ops->activate with the restored queues, which look at
 *      their rings from the restored indices on).
 *   2. the device's own restore (balloon_restore, balloon.h), which checks
 *      it against what step 1 negotiated and activated.
 *   3. register the ioeventfds, then, from the main loop, before or after
 *      the vCPUs start: virtio_mmio_restored(t), a kick on every ready
 *      queue, so buffers the guest made available before the snapshot and
 *      whose kick the old process never handled are not left waiting. */
struct virtio_mmio_queue_state {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size;           /* QueueNum as written (0: never written) */
	uint16_t last_avail;     /* next avail index the device pops */
	uint16_t used_idx;       /* next used index the device writes */
	uint16_t signalled_used; /* event idx: used_idx at the last notify */
	uint8_t ready;
	uint8_t signalled_valid;
	uint8_t signalled_answer;
	uint8_t pad[5];
};

struct virtio_mmio_state {
	uint32_t device_id;
	uint32_t status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint32_t interrupt_status;
	uint32_t config_generation;
	uint32_t nr_queues;
	uint8_t driver_features_bad;
	uint8_t activated; /* the device was activated (DRIVER_OK accepted) */
	uint8_t pad[2];
	struct virtio_mmio_queue_state queues[VIRTIO_MMIO_MAX_QUEUES];
};

/* Takes the lock. 0 (never fails today; callers check anyway). A device
 * with work in flight must be drained first by its own save (balloon_save
 * refuses with -EBUSY); the rings themselves live in guest memory. */
int virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *st);
/* Restores st into a freshly initialised t (-EBUSY with err otherwise).
 * Checked first, nothing changed on refusal (-EINVAL, err names the field):
 * device id; Status a state the state machine reaches (bits in the order of
 * 3.1.1, DRIVER_OK only after FEATURES_OK, NEEDS_RESET kept as is); driver
 * features a subset of what this device offers now (a device configured
 * differently is refused, the message names the bits) with VERSION_1 once
 * FEATURES_OK is set, and accepted by the device's set_features; queue
 * sizes within the device's max, ready queues a power of two with their
 * rings in guest RAM (virtq_activate) and at most a queue's worth of
 * buffers in flight (last_avail - used_idx <= size). Then, with DRIVER_OK,
 * ops->activate runs once (a failure resets t and returns its error), and
 * a non-zero InterruptStatus fires the irq once: a spare interrupt rather
 * than a lost one. */
int virtio_mmio_restore(struct virtio_mmio *t,
			const struct virtio_mmio_state *st, char *err,
			size_t errlen);
/* Main loop, after every device's restore: queue_notify for each ready
 * queue (see the order above). Harmless when nothing is waiting. */
void virtio_mmio_restored(struct virtio_mmio *t);

#endif
