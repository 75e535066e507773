#include "vtb.h"

#include <stdlib.h>
#include <string.h>

static int vtb_irq_fire(void *opaque)
{
	((struct vtb *)opaque)->irqs++;
	return 0;
}

struct vtb *vtb_new(struct virtio_dev *dev, uint64_t ram_bytes)
{
	if (ram_bytes <= VTB_HEAP_GPA)
		return NULL;
	struct vtb *tb = calloc(1, sizeof(*tb));
	if (!tb)
		return NULL;
	tb->ram_bytes = ram_bytes;
	tb->ram = aligned_alloc(4096, ram_bytes);
	if (!tb->ram)
		goto err_tb;
	memset(tb->ram, 0, ram_bytes);
	if (gmem_init_external(&tb->mem, 0, tb->ram, ram_bytes))
		goto err_ram;
	struct irq_trigger irq = {vtb_irq_fire, tb};
	if (virtio_mmio_init(&tb->t, dev, &tb->mem, irq))
		goto err_ram;
	bus_init(&tb->bus);
	if (bus_insert(&tb->bus, VTB_MMIO_BASE, VIRTIO_MMIO_SIZE,
		       &virtio_mmio_bus_ops, &tb->t))
		goto err_mmio;
	fvd_init(&tb->drv, &tb->bus, VTB_MMIO_BASE, &tb->mem, VTB_HEAP_GPA,
		 ram_bytes - VTB_HEAP_GPA);
	return tb;
err_mmio:
	virtio_mmio_destroy(&tb->t);
err_ram:
	free(tb->ram);
err_tb:
	free(tb);
	return NULL;
}

void vtb_free(struct vtb *tb)
{
	if (!tb)
		return;
	virtio_mmio_destroy(&tb->t);
	free(tb->ram);
	free(tb);
}
