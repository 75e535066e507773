/* vtb: a virtio test bed. Fake guest RAM (a gmem over a host buffer at GPA
 * 0), an MMIO bus with one virtio-mmio transport in front of any device, an
 * interrupt counter, and an fvd driver wired to it. Device-agnostic: the
 * balloon tests put the balloon behind it, the core tests a fake_vdev.
 *
 *   struct vtb *tb = vtb_new(&dev->vdev, VTB_RAM_DEFAULT);
 *   fvd_negotiate(&tb->drv, ~0ULL); ...; vtb_free(tb);
 *
 * RAM below VTB_HEAP_GPA is left to the test; the driver allocates its rings
 * and buffers above it. */
#ifndef VTB_H
#define VTB_H

#include "fake_virtio_driver.h"

#include <core/gmem.h>
#include <devices/bus.h>
#include <devices/virtio_mmio.h>

#include <stdint.h>

#define VTB_MMIO_BASE 0xd0000000ULL
#define VTB_RAM_DEFAULT (1ULL << 20)
#define VTB_HEAP_GPA 0x10000ULL

struct vtb {
	uint8_t *ram;
	uint64_t ram_bytes;
	struct gmem mem;
	struct bus bus;
	struct virtio_mmio t;
	struct fvd drv;
	unsigned irqs; /* irq_trigger fires */
};

/* NULL when allocation or virtio_mmio_init fails. */
struct vtb *vtb_new(struct virtio_dev *dev, uint64_t ram_bytes);
void vtb_free(struct vtb *tb);

#endif
