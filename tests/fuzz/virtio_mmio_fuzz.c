/* libFuzzer target: the virtio-mmio register file and split virtqueues under
 * a hostile driver. The input is a program of operations: raw MMIO accesses
 * of any width and offset, raw writes to guest RAM and to the rings, and
 * well-formed driver steps (negotiate, queue setup, add, kick, reap) so the
 * fuzzer reaches deep states quickly. Behind the transport sits the echo
 * device of the unit tests. Any crash, sanitizer report or broken invariant
 * (__builtin_trap) is a finding. */
#include "../unit/fakes/fake_vdev.c"
#include "../unit/fakes/fake_driver.c"

#include <core/log.h>
#include <devices/virtio_mmio.h>

#include <linux/virtio_config.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RAM_BYTES 0x10000ULL
#define HEAP_GPA 0x8000ULL
#define MMIO_BASE 0x10000000ULL
#define NR_QUEUES 2
#define QMAX 64

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

static int count_irq(void *opaque)
{
	(*(unsigned *)opaque)++;
	return 0;
}

static void check_invariants(struct virtio_mmio *t, struct fake_vdev *dev)
{
	uint32_t st = t->status;
	if ((st & VIRTIO_CONFIG_S_DRIVER_OK) && !(st & VIRTIO_CONFIG_S_FEATURES_OK))
		__builtin_trap();
	if ((st & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(t->driver_features & (1ULL << VIRTIO_F_VERSION_1)))
		__builtin_trap();
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		const struct virtq *vq = &t->queues[q];
		if (vq->ready && (q >= NR_QUEUES || vq->size > QMAX ||
				  (vq->size & (vq->size - 1))))
			__builtin_trap();
	}
	if (t->interrupt_status & ~3U)
		__builtin_trap();
	(void)dev;
}

static void sgs_from_input(struct input *in, struct fake_driver_sg *sg,
			   unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		sg[i].gpa = take(in, 2); /* mostly inside RAM */
		sg[i].len = (uint32_t)take(in, 2) & 0x3ff;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[RAM_BYTES] __attribute__((aligned(4096)));
	static struct fake_vdev dev;
	static struct virtio_mmio t;
	static struct fake_driver drv;
	struct input in = {data, size};
	struct gmem mem;
	struct bus bus;
	unsigned irqs = 0;

	log_set_level(LOG_ERROR);
	memset(ram, 0, sizeof(ram));
	gmem_init_external(&mem, 0, ram, RAM_BYTES);
	fake_vdev_init(&dev, 42, NR_QUEUES, QMAX);
	dev.offer = take(&in, 1); /* some device feature bits */
	if (virtio_mmio_init(&t, &dev.vdev, &mem,
			     (struct irq_trigger){count_irq, &irqs}))
		__builtin_trap();
	bus_init(&bus);
	bus_insert(&bus, MMIO_BASE, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, &t);
	fake_driver_init(&drv, &bus, MMIO_BASE, &mem, HEAP_GPA,
			 RAM_BYTES - HEAP_GPA);

	for (unsigned steps = 0; in.left && steps < 256; steps++) {
		uint8_t op = (uint8_t)take(&in, 1);
		unsigned q = (op >> 4) & 1;
		struct fake_driver_sg sg[4];
		switch (op & 0xf) {
		case 0: { /* raw 32-bit register write */
			uint32_t off = (uint32_t)take(&in, 1) * 4;
			fake_driver_write(&drv, off, (uint32_t)take(&in, 4));
			break;
		}
		case 1: /* raw 32-bit register read */
			fake_driver_read(&drv, (uint32_t)take(&in, 1) * 4);
			break;
		case 2: { /* any width, any offset, read or write */
			uint64_t off = take(&in, 2) % VIRTIO_MMIO_SIZE;
			unsigned len = 1u << (take(&in, 1) & 3);
			uint64_t v = take(&in, 8);
			if (off + len > VIRTIO_MMIO_SIZE)
				break;
			if (op & 0x20)
				bus_write(&bus, MMIO_BASE + off, &v, len);
			else
				bus_read(&bus, MMIO_BASE + off, &v, len);
			break;
		}
		case 3: { /* scribble on guest RAM (rings, tables, buffers) */
			uint64_t gpa = take(&in, 2);
			unsigned len = (unsigned)take(&in, 1) & 0x3f;
			for (unsigned i = 0; i < len && in.left; i++)
				ram[(gpa + i) % RAM_BYTES] = (uint8_t)take(&in, 1);
			break;
		}
		case 4: /* main loop: ioeventfd for queue q fired */
			virtio_mmio_queue_event(&t, (unsigned)take(&in, 1) & 7);
			break;
		case 5: /* well-formed bring-up with fuzzed features/size */
			if (fake_driver_negotiate(&drv, take(&in, 8)) == 0) {
				fake_driver_setup_queue(&drv, 0,
							(uint16_t)take(&in, 1));
				fake_driver_setup_queue(&drv, 1,
							(uint16_t)take(&in, 1));
				fake_driver_set_driver_ok(&drv);
			}
			break;
		case 6: /* raw queue registers: any size and ring addresses */
			fake_driver_setup_queue_at(
				&drv, q, (uint32_t)take(&in, 2), take(&in, 2),
				take(&in, 2), take(&in, 2));
			break;
		case 7: { /* add a direct buffer and kick */
			unsigned n = 1 + ((op >> 5) & 3), out = take(&in, 1) % (n + 1);
			sgs_from_input(&in, sg, n);
			if (drv.q[q].size)
				fake_driver_add(&drv, q, sg, out, n - out);
			fake_driver_kick(&drv, q);
			break;
		}
		case 8: { /* add an indirect buffer and kick */
			unsigned n = 1 + ((op >> 5) & 3), out = take(&in, 1) % (n + 1);
			sgs_from_input(&in, sg, n);
			if (drv.q[q].size)
				fake_driver_add_indirect(&drv, q, sg, out,
							 n - out);
			fake_driver_kick(&drv, q);
			break;
		}
		case 9: /* reap used buffers */
			if (drv.q[q].size)
				while (fake_driver_get_used(&drv, q, NULL) >= 0)
					;
			break;
		case 10: /* raw descriptor */
			if (drv.q[q].size)
				fake_driver_set_desc(
					&drv, q, (uint16_t)take(&in, 1),
					take(&in, 8), (uint32_t)take(&in, 4),
					(uint16_t)take(&in, 1),
					(uint16_t)take(&in, 1));
			break;
		case 11: /* raw avail entry / raw avail idx */
			if (op & 0x20)
				fake_driver_publish_head(
					&drv, q, (uint16_t)take(&in, 2));
			else
				fake_driver_set_avail_idx(
					&drv, q, (uint16_t)take(&in, 2));
			break;
		case 12: /* device side: config change or device error */
			if (dev.host) {
				if (op & 0x20)
					dev.host->config_changed(dev.host->t);
				else
					dev.host->needs_reset(dev.host->t, "fuzz");
			}
			break;
		case 13: /* interrupt suppression */
			if (!drv.q[q].size)
				break;
			if (op & 0x20)
				fake_driver_disable_cb(&drv, q);
			else
				fake_driver_enable_cb(&drv, q);
			break;
		case 14:
			fake_driver_ack_irq(&drv);
			break;
		case 15: /* device completes later (manual mode toggles) */
			dev.manual = !dev.manual;
			if (!dev.manual)
				fake_vdev_process(&dev, q);
			break;
		}
		check_invariants(&t, &dev);
	}
	virtio_mmio_destroy(&t);
	return 0;
}
