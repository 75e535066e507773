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
 * value no ioeventfd matches) goes to the notify hook if one was set (the
 * VMM forwards it to the main loop), else is processed inline.
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

/* Called for a QueueNotify write that reached the bus; q is the value. */
typedef void (*virtio_mmio_notify_fn)(void *opaque, unsigned q);

struct virtio_mmio {
	pthread_mutex_t lock; /* recursive */
	struct virtio_dev *dev;
	const struct gmem *mem;
	struct irq_trigger irq;
	struct virtio_host host; /* handed to dev->ops->activate */
	virtio_mmio_notify_fn notify_hook;
	void *notify_opaque;

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

/* Set before vCPUs start. NULL processes bus QueueNotify writes inline. */
void virtio_mmio_set_notify_hook(struct virtio_mmio *t, virtio_mmio_notify_fn fn,
				 void *opaque);
/* Main loop: queue q was kicked (its ioeventfd fired). Ignored, and counted,
 * unless DRIVER_OK is set, the device does not need a reset and q is a
 * ready queue. */
void virtio_mmio_queue_event(struct virtio_mmio *t, unsigned q);

/* A copy of the counters, taken under the lock. */
void virtio_mmio_get_metrics(struct virtio_mmio *t,
			     struct virtio_mmio_metrics *out);

/* Formats the kernel argument announcing a device to Linux
 * ("virtio_mmio.device=512@0xd0000000:5"). Length written, or -ENOSPC. */
int virtio_mmio_cmdline_arg(char *buf, size_t size, uint64_t base,
			    unsigned irq);

#endif
