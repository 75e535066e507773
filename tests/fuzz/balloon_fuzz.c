/* libFuzzer target: the balloon behind its virtio-mmio transport under a
 * hostile driver. The input negotiates any feature set, then runs a program
 * of steps: PFN arrays, statistics and hint commands as driver buffers,
 * device-writable scatter lists (reports, hints) anywhere in the address
 * space, config-space accesses, host-side target changes, stats ticks, hint
 * runs, discard completions in any order, and resets. Invariant: every range
 * the balloon asks to discard is page aligned and inside guest RAM. */
#include "../unit/fakes/fake_driver.c"
#include "../unit/fakes/recording_discard.c"

#include <core/log.h>
#include <devices/balloon.h>
#include <devices/virtio_mmio.h>

#include <stdint.h>
#include <string.h>

#define RAM_BYTES (4ULL << 20)
#define HEAP_GPA 0x10000ULL
#define HEAP_LEN 0x30000ULL
#define SCRATCH_GPA 0x40000ULL
#define SCRATCH_LEN 0x4000ULL
#define MMIO_BASE 0x10000000ULL
#define QSIZE 16

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

static int no_irq(void *opaque)
{
	(void)opaque;
	return 0;
}

static void check_discards(const struct recording_discard *rd)
{
	for (unsigned i = 0; i < rd->nr; i++) {
		const struct recording_discard_range *r = &rd->ranges[i];
		if (r->len == 0 || r->gpa % 4096 || r->len % 4096 ||
		    r->gpa + r->len > RAM_BYTES || r->gpa + r->len < r->gpa)
			__builtin_trap();
	}
}

static void bring_up(struct fake_driver *drv, uint64_t features, unsigned nq)
{
	if (fake_driver_negotiate(drv, features) != 0)
		return;
	for (unsigned q = 0; q < nq; q++)
		fake_driver_setup_queue(drv, q, QSIZE);
	fake_driver_set_driver_ok(drv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[RAM_BYTES] __attribute__((aligned(4096)));
	static struct balloon b;
	static struct virtio_mmio t;
	static struct recording_discard rd;
	static struct fake_driver drv;
	struct input in = {data, size};
	struct gmem mem;
	struct bus bus;

	log_set_level(LOG_ERROR);
	memset(ram, 0, sizeof(ram));
	gmem_init_external(&mem, 0, ram, RAM_BYTES);
	uint8_t cfgbits = (uint8_t)take(&in, 1);
	struct balloon_config cfg = {
		.amount_mib = (uint32_t)take(&in, 1) & 3,
		.deflate_on_oom = cfgbits & 1,
		.stats_polling_interval_s = (cfgbits >> 1) & 1,
		.free_page_reporting = (cfgbits >> 2) & 1,
		.free_page_hinting = (cfgbits >> 3) & 1,
		.require_must_tell_host = (cfgbits >> 4) & 1,
	};
	recording_discard_init(&rd, balloon_discard_done);
	rd.auto_complete = (cfgbits >> 5) & 1;
	if (balloon_init(&b, &cfg, &rd.iface))
		__builtin_trap();
	if (virtio_mmio_init(&t, balloon_virtio_dev(&b), &mem,
			     (struct irq_trigger){no_irq, NULL}))
		__builtin_trap();
	bus_init(&bus);
	bus_insert(&bus, MMIO_BASE, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, &t);
	fake_driver_init(&drv, &bus, MMIO_BASE, &mem, HEAP_GPA, HEAP_LEN);
	uint64_t features = take(&in, 8) | (1ULL << 32); /* VERSION_1 */
	bring_up(&drv, features, 5);

	for (unsigned steps = 0; in.left && steps < 128; steps++) {
		uint8_t op = (uint8_t)take(&in, 1);
		unsigned q = (op >> 4) % 5;
		struct fake_driver_sg sg[4];
		switch (op & 0xf) {
		case 0: { /* a driver buffer (PFNs, stats, cmd id) from fuzz bytes */
			unsigned len = (unsigned)take(&in, 2) % SCRATCH_LEN;
			for (unsigned i = 0; i < len && in.left; i++)
				ram[SCRATCH_GPA + i] = (uint8_t)take(&in, 1);
			sg[0] = (struct fake_driver_sg){SCRATCH_GPA, len};
			if (drv.q[q].size &&
			    fake_driver_add(&drv, q, sg, 1, 0) >= 0)
				fake_driver_kick(&drv, q);
			virtio_mmio_queue_event(&t, q);
			break;
		}
		case 1: { /* device-writable ranges anywhere (reports, hints) */
			unsigned n = 1 + ((op >> 6) & 3);
			for (unsigned i = 0; i < n; i++) {
				sg[i].gpa = take(&in, 4) << 12;
				sg[i].len = (uint32_t)take(&in, 3) << 9;
			}
			if (drv.q[q].size &&
			    fake_driver_add(&drv, q, sg, 0, n) >= 0)
				fake_driver_kick(&drv, q);
			virtio_mmio_queue_event(&t, q);
			break;
		}
		case 2:
			recording_discard_complete_all(&rd, (op & 0x80) ? -EIO : 0);
			break;
		case 3:
			balloon_set_target_mib(&b, (uint32_t)take(&in, 2));
			break;
		case 4:
			balloon_stats_tick(&b);
			break;
		case 5: {
			uint32_t id;
			switch ((op >> 4) & 3) {
			case 0: balloon_hint_start(&b, op & 0x40, &id); break;
			case 1: balloon_hint_stop(&b); break;
			default: balloon_hint_done(&b); break;
			}
			break;
		}
		case 6: /* reset: the engine finishes what is in flight first */
			recording_discard_complete_all(&rd, 0);
			fake_driver_reset(&drv);
			bring_up(&drv, take(&in, 8) | (1ULL << 32), 5);
			break;
		case 7:
			if (drv.q[q].size)
				while (fake_driver_get_used(&drv, q, NULL) >= 0)
					;
			break;
		case 8: { /* config space, any width */
			uint64_t off = 0x100 + take(&in, 1) % 0x10;
			unsigned len = 1u << (take(&in, 1) & 2);
			uint64_t v = take(&in, 4);
			if (op & 0x80)
				bus_write(&bus, MMIO_BASE + off, &v, len);
			else
				bus_read(&bus, MMIO_BASE + off, &v, len);
			break;
		}
		case 9:
			balloon_run_pending(&b);
			break;
		case 10:
			rd.auto_complete = !rd.auto_complete;
			break;
		default: { /* scribble on the rings and buffers */
			uint64_t gpa = HEAP_GPA + take(&in, 2) % (HEAP_LEN + SCRATCH_LEN);
			unsigned len = (unsigned)take(&in, 1) & 0x1f;
			for (unsigned i = 0; i < len && in.left; i++)
				ram[(gpa + i) % RAM_BYTES] = (uint8_t)take(&in, 1);
			break;
		}
		}
		check_discards(&rd);
		struct balloon_info info;
		balloon_get_info(&b, &info);
	}
	recording_discard_complete_all(&rd, 0);
	virtio_mmio_destroy(&t);
	balloon_destroy(&b);
	recording_discard_destroy(&rd);
	return 0;
}
