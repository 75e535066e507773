/* virtio_testbed: fake guest RAM (a gmem over a host buffer at GPA 0), an
 * MMIO bus with one virtio-mmio transport in front of any device, an
 * interrupt counter, and a fake_driver wired to it. Device-agnostic: the
 * balloon tests put the balloon behind it, the transport tests a fake_vdev.
 *
 *   struct virtio_testbed *tb =
 *           virtio_testbed_new(&dev->vdev, VIRTIO_TESTBED_RAM_DEFAULT);
 *   fake_driver_negotiate(&tb->drv, ~0ULL); ...; virtio_testbed_free(tb);
 *
 * RAM below VIRTIO_TESTBED_HEAP_GPA is left to the test; the driver
 * allocates its rings and buffers above it. */
#ifndef VIRTIO_TESTBED_H
#define VIRTIO_TESTBED_H

#include "fake_driver.h"

#include <core/gmem.h>
#include <devices/bus.h>
#include <devices/virtio_mmio.h>

#include <stdint.h>

#define VIRTIO_TESTBED_MMIO_BASE 0xd0000000ULL
#define VIRTIO_TESTBED_RAM_DEFAULT (1ULL << 20)
#define VIRTIO_TESTBED_HEAP_GPA 0x10000ULL

struct virtio_testbed {
	uint8_t *ram;
	uint64_t ram_bytes;
	struct gmem mem;
	struct bus bus;
	struct virtio_mmio t;
	struct fake_driver drv;
	unsigned irqs; /* irq_trigger fires */
};

/* NULL when allocation or virtio_mmio_init fails. */
struct virtio_testbed *virtio_testbed_new(struct virtio_dev *dev,
					  uint64_t ram_bytes);
void virtio_testbed_free(struct virtio_testbed *tb);

#endif
