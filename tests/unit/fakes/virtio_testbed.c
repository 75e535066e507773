#include "virtio_testbed.h"

#include <stdlib.h>
#include <string.h>

static int virtio_testbed_irq_fire(void *opaque)
{
	((struct virtio_testbed *)opaque)->irqs++;
	return 0;
}

struct virtio_testbed *virtio_testbed_new(struct virtio_dev *dev,
					  uint64_t ram_bytes)
{
	if (ram_bytes <= VIRTIO_TESTBED_HEAP_GPA)
		return NULL;
	struct virtio_testbed *tb = calloc(1, sizeof(*tb));
	if (!tb)
		return NULL;
	tb->ram_bytes = ram_bytes;
	tb->ram = aligned_alloc(4096, ram_bytes);
	if (!tb->ram)
		goto err_tb;
	memset(tb->ram, 0, ram_bytes);
	if (gmem_init_external(&tb->mem, 0, tb->ram, ram_bytes))
		goto err_ram;
	struct irq_trigger irq = {virtio_testbed_irq_fire, tb};
	if (virtio_mmio_init(&tb->t, dev, &tb->mem, irq))
		goto err_ram;
	bus_init(&tb->bus);
	if (bus_insert(&tb->bus, VIRTIO_TESTBED_MMIO_BASE, VIRTIO_MMIO_SIZE,
		       &virtio_mmio_bus_ops, &tb->t))
		goto err_mmio;
	fake_driver_init(&tb->drv, &tb->bus, VIRTIO_TESTBED_MMIO_BASE, &tb->mem,
			 VIRTIO_TESTBED_HEAP_GPA,
			 ram_bytes - VIRTIO_TESTBED_HEAP_GPA);
	return tb;
err_mmio:
	virtio_mmio_destroy(&tb->t);
err_ram:
	free(tb->ram);
err_tb:
	free(tb);
	return NULL;
}

void virtio_testbed_free(struct virtio_testbed *tb)
{
	if (!tb)
		return;
	virtio_mmio_destroy(&tb->t);
	free(tb->ram);
	free(tb);
}
