/* fake_vdev: a minimal virtio device for transport and queue tests. It offers
 * the features it is told to, has a small config space, and echoes each
 * request: the chain's device-readable bytes are copied into its
 * device-writable ones, and the used length is the number copied. It records
 * every call so tests can check what the transport did.
 * Threads: runs under the transport's lock, like any device. */
#ifndef FAKE_VDEV_H
#define FAKE_VDEV_H

#include <devices/virtio_dev.h>

#include <stdbool.h>
#include <stdint.h>

#define FAKE_VDEV_CONFIG_SIZE 16
#define FAKE_VDEV_MAX_QUEUES 8

struct fake_vdev {
	struct virtio_dev vdev; /* hand &f->vdev to virtio_mmio_init */
	uint64_t offer;         /* device features (transport adds its own) */
	bool refuse_features;   /* set_features fails */
	bool manual;            /* queue_notify only counts; no processing */
	uint8_t config[FAKE_VDEV_CONFIG_SIZE];

	/* What the transport did. */
	uint64_t acked;          /* last set_features argument */
	struct virtq *queues;    /* from activate, NULL after reset */
	unsigned nr_queues;
	const struct gmem *mem;
	const struct virtio_host *host;
	unsigned activations, resets, config_writes;
	unsigned notifies[FAKE_VDEV_MAX_QUEUES];
	unsigned completed; /* chains echoed and pushed */
	unsigned malformed; /* pops that returned -EINVAL */
	struct virtq_chain chain; /* scratch for fake_vdev_process */
};

void fake_vdev_init(struct fake_vdev *f, uint32_t device_id,
		    unsigned nr_queues, uint16_t queue_max_size);
/* Pops and echoes every available chain of queue q, then asks the transport
 * to notify; a malformed chain requests a reset. Returns chains done. */
unsigned fake_vdev_process(struct fake_vdev *f, unsigned q);

#endif
