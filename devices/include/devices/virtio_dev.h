/* The interface between a virtio device and its transport. A device is an
 * ops table plus an opaque pointer; it never learns it sits on virtio-mmio.
 *
 * Threads: ops run with the transport's lock held. Register accesses come
 * from vCPU threads; queue_notify from the main loop. A device that acts on
 * its own (timers, discard completions, API calls) takes host->lock first.
 * The lock is recursive. */
#ifndef DEVICES_VIRTIO_DEV_H
#define DEVICES_VIRTIO_DEV_H

#include <core/gmem.h>
#include <devices/virtq.h>

#include <pthread.h>
#include <stdint.h>

/* What the transport offers the device once activated. */
struct virtio_host {
	void *t;
	/* Used buffers were added to queue q: interrupt if the driver wants
	 * (the transport asks virtq_needs_notify itself). */
	void (*notify_queue)(void *t, unsigned q);
	/* Device config changed: bumps ConfigGeneration, config interrupt. */
	void (*config_changed)(void *t);
	/* Device cannot go on: sets DEVICE_NEEDS_RESET, config interrupt. */
	void (*needs_reset)(void *t, const char *why);
	void (*lock)(void *t);
	void (*unlock)(void *t);
	/* With the lock held once: releases it while waiting on cond (signalled
	 * under the lock) for at most timeout_ms. 0, or ETIMEDOUT. */
	int (*wait)(void *t, pthread_cond_t *cond, unsigned timeout_ms);
};

struct virtio_dev_ops {
	/* Features offered; the transport adds VIRTIO_F_VERSION_1 and the
	 * ring features it implements. */
	uint64_t (*get_features)(void *dev);
	/* At FEATURES_OK with the driver's choice (already a subset of the
	 * offer). Negative refuses, FEATURES_OK then stays clear (3.1.1). */
	int (*set_features)(void *dev, uint64_t features);
	/* Queues in use under the negotiated features. */
	unsigned (*num_queues)(void *dev);
	/* Config window access, offset and len already bounds-checked. */
	void (*config_read)(void *dev, uint32_t off, void *data, unsigned len);
	void (*config_write)(void *dev, uint32_t off, const void *data,
			     unsigned len);
	/* At DRIVER_OK; queues are validated. Negative: NEEDS_RESET. */
	int (*activate)(void *dev, struct virtq *queues, unsigned nr_queues,
			const struct gmem *mem, const struct virtio_host *host);
	/* The driver kicked queue q. */
	void (*queue_notify)(void *dev, unsigned q);
	/* Device reset: forget queues and in-flight requests. */
	void (*reset)(void *dev);
};

struct virtio_dev {
	uint32_t device_id;
	uint32_t config_size;
	unsigned max_queues;
	uint16_t queue_max_size;
	const struct virtio_dev_ops *ops;
	void *dev;
};

#endif
