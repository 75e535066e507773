/* libFuzzer target: the restore side of snapshots, whose state file is
 * untrusted input. Each input is used twice:
 *  1. as a state file: snapfile_reader_parse, then its sections go to their
 *     consumers as in snapshot_load (vmm/snapshot/snapshot_load.c; its CPUID
 *     and machine checks are vmm/ code, not linked here: the machine
 *     section only gives the balloon's config);
 *  2. as a payload: its sections (u32 tag, u32 instance, u64 len, data,
 *     after the 32-byte header when the input has one) are written into a
 *     fresh image with snapfile_writer, so the CRC is right and mutated
 *     section bytes reach the consumers. Sections of a fixed-size struct are cut or
 *     zero-padded to its size. The writer's image must parse.
 * Consumers: x86_vm_state_check / x86_vcpu_state_check on the KVM blobs (no
 * KVM here: checks only); serial_restore into a fresh UART, which is then
 * drained; the balloon behind a fresh virtio-mmio transport over a small
 * guest RAM, restored in the VMM's order (balloon_state_check,
 * virtio_mmio_restore, balloon_restore), then run from the driver's and the
 * host's side (queue notifies, a stats tick, a hint run, a new target), and
 * finally saved and restored once more into another fresh pair.
 * Invariants (__builtin_trap): discards are page aligned inside guest RAM;
 * a restored UART saves back the state it was given; a balloon and
 * transport that ran after a restore can be saved and restored again.
 *
 * A fuzzer-only section (FUZZ_TAG_RAM) stands in for the memory file: it
 * holds records (u32 gpa, u16 len, len bytes) copied into guest RAM before
 * the restore, so restored rings can point at real descriptors. The seeds
 * in corpus/snapshot/ are state files from real save calls: KVM's vm and
 * vcpu blobs, and the devices worked by the simulated Linux balloon driver
 * (tests/unit/fakes/fake_balloon_driver.h) on this RAM layout. */
#include "../unit/fakes/recording_discard.c"

#include "snapshot/snapshot.h"
#include "snapshot/snapshot_machine.h"

#include <arch/kvm_state.h>
#include <core/checked.h>
#include <core/log.h>
#include "snapshot/snapfile.h"
#include <devices/balloon.h>
#include <devices/bus.h>
#include <devices/serial.h>
#include <devices/virtio_mmio.h>

#include <endian.h>
#include <linux/serial_reg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_TAG_RAM 0x7a7a0001u
/* Fits the seeds' layout: driver rings from 0x10000, free pages from
 * 0x100000 (tests/unit/fakes/fake_balloon_driver.h). */
#define RAM_BYTES 0x140000ULL
#define MMIO_BASE 0xd0000000ULL
#define MAX_VCPUS 4
#define MAX_SECTIONS 32
#define MAX_FIXED_BYTES 4096

_Static_assert(sizeof(struct snapshot_machine) <= MAX_FIXED_BYTES &&
		       sizeof(struct serial_state) <= MAX_FIXED_BYTES &&
		       sizeof(struct virtio_mmio_state) <= MAX_FIXED_BYTES &&
		       sizeof(struct balloon_state) <= MAX_FIXED_BYTES,
	       "every fixed-size section fits the rebuild buffer");

static int no_irq(void *opaque)
{
	(void)opaque;
	return 0;
}

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static void check_kvm_blobs(const struct snapfile_reader *rd)
{
	char err[256];
	const void *d;
	size_t len;
	if (!snapfile_get(rd, SNAPSHOT_TAG_VM_KVM, 0, &d, &len))
		x86_vm_state_check(d, len, err, sizeof(err));
	for (uint32_t i = 0; i < MAX_VCPUS; i++)
		if (!snapfile_get(rd, SNAPSHOT_TAG_VCPU, i, &d, &len))
			x86_vcpu_state_check(d, len, err, sizeof(err));
}

static void restore_serial(const struct snapfile_reader *rd)
{
	struct serial_state st, again;
	struct serial s;
	if (snapfile_get_exact(rd, SNAPSHOT_TAG_SERIAL, 0, &st, sizeof(st)))
		return;
	serial_init(&s, (struct irq_trigger){no_irq, NULL},
		    (struct serial_out){NULL, NULL});
	if (serial_restore(&s, &st) == 0) {
		serial_save(&s, &again);
		if (memcmp(&st, &again, sizeof(st)))
			__builtin_trap();
		/* The guest reads what was waiting (DLAB off: offset 0 is
		 * RBR); one more read than the buffer holds finds it empty. */
		uint8_t v = UART_LCR_WLEN8;
		serial_bus_ops.write(&s, UART_LCR, &v, 1);
		serial_bus_ops.read(&s, UART_IIR, &v, 1);
		for (unsigned i = 0; i <= SERIAL_RX_CAP; i++) {
			serial_bus_ops.read(&s, UART_LSR, &v, 1);
			if (!(v & UART_LSR_DR))
				break;
			if (i == SERIAL_RX_CAP)
				__builtin_trap();
			serial_bus_ops.read(&s, UART_RX, &v, 1);
		}
		serial_bus_ops.write(&s, UART_TX, &v, 1);
	}
	serial_destroy(&s);
}

/* The memory file's stand-in: records copied into RAM, clipped to it. */
static void load_ram(const struct snapfile_reader *rd, uint8_t *ram)
{
	const uint8_t *p;
	size_t len;
	if (snapfile_get(rd, FUZZ_TAG_RAM, 0, (const void **)&p, &len))
		return;
	while (len >= 6) {
		uint64_t gpa = le32_at(p);
		uint16_t n;
		memcpy(&n, p + 4, 2);
		n = le16toh(n);
		p += 6;
		len -= 6;
		if (n > len)
			n = (uint16_t)len;
		if (gpa < RAM_BYTES)
			memcpy(ram + gpa, p, MIN((uint64_t)n, RAM_BYTES - gpa));
		p += n;
		len -= n;
	}
}

/* The balloon's config as the VMM builds it from the machine section
 * (vm_balloon_config); false when the VMM would build no balloon. */
static bool balloon_config_from(const struct snapfile_reader *rd,
				struct balloon_config *cfg)
{
	struct snapshot_machine m;
	if (snapfile_get_exact(rd, SNAPSHOT_TAG_MACHINE, 0, &m, sizeof(m))) {
		*cfg = (struct balloon_config){
			.stats_polling_interval_s = 1,
			.free_page_reporting = true,
			.free_page_hinting = true,
			.deflate_on_oom = true,
		};
		return true;
	}
	if (!m.balloon_enabled || m.mem_lock > 1 ||
	    m.balloon_deflate_on_oom > 1 || m.balloon_free_page_reporting > 1 ||
	    m.balloon_free_page_hinting > 1)
		return false;
	*cfg = (struct balloon_config){
		.amount_mib = m.balloon_amount_mib,
		.deflate_on_oom = m.balloon_deflate_on_oom,
		.stats_polling_interval_s = m.balloon_stats_interval_s,
		.free_page_reporting = m.balloon_free_page_reporting,
		.free_page_hinting = m.balloon_free_page_hinting,
		/* mem_lock's pinning needs real memory: not fuzzed. */
		.require_must_tell_host = m.mem_lock,
	};
	return true;
}

struct bed {
	struct balloon b;
	struct virtio_mmio t;
	struct recording_discard rd;
	struct bus bus;
	bool up;
};

static bool bed_up(struct bed *x, const struct balloon_config *cfg,
		   const struct gmem *mem)
{
	x->up = false;
	recording_discard_init(&x->rd, balloon_discard_done);
	/* Like the synchronous backend: nothing stays in flight. */
	x->rd.auto_complete = true;
	if (balloon_init(&x->b, cfg, &x->rd.iface)) {
		recording_discard_destroy(&x->rd);
		return false;
	}
	if (virtio_mmio_init(&x->t, balloon_virtio_dev(&x->b), mem,
			     (struct irq_trigger){no_irq, NULL}))
		__builtin_trap();
	bus_init(&x->bus);
	bus_insert(&x->bus, MMIO_BASE, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops,
		   &x->t);
	x->up = true;
	return true;
}

static void bed_down(struct bed *x)
{
	if (!x->up)
		return;
	recording_discard_complete_all(&x->rd, 0);
	virtio_mmio_destroy(&x->t);
	balloon_destroy(&x->b);
	recording_discard_destroy(&x->rd);
	x->up = false;
}

/* snapshot_restore_devices' order; 0 when everything was accepted. */
static int bed_restore(struct bed *x, const struct virtio_mmio_state *ms,
		       const struct balloon_state *bs)
{
	char err[256];
	int r;
	if ((r = balloon_state_check(&x->b, bs, err, sizeof(err))) ||
	    (r = virtio_mmio_restore(&x->t, ms, err, sizeof(err))) ||
	    (r = balloon_restore(&x->b, bs, err, sizeof(err))))
		return r;
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

/* Driver and host actions on a restored device. */
static void bed_run(struct bed *x)
{
	uint32_t id, v;
	virtio_mmio_restored(&x->t);
	balloon_run_pending(&x->b);
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		virtio_mmio_queue_event(&x->t, q);
	for (uint64_t off = 0; off < 0x100 + 0x20; off += 4)
		bus_read(&x->bus, MMIO_BASE + off, &v, 4);
	balloon_stats_tick(&x->b);
	balloon_hint_start(&x->b, false, &id);
	for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		virtio_mmio_queue_event(&x->t, q);
	balloon_hint_stop(&x->b);
	balloon_set_target_mib(&x->b, 1);
	balloon_run_pending(&x->b);
	struct balloon_info info;
	struct balloon_hint_status hs;
	struct balloon_stats st;
	balloon_get_info(&x->b, &info);
	balloon_hint_status(&x->b, &hs);
	balloon_get_stats(&x->b, &st);
	check_discards(&x->rd);
}

static void restore_balloon(const struct snapfile_reader *rd)
{
	struct balloon_config cfg;
	struct virtio_mmio_state ms, ms2;
	struct balloon_state bs, bs2;
	struct gmem mem;
	struct bed a, b;
	if (!balloon_config_from(rd, &cfg))
		return;
	bool have_ms = !snapfile_get_exact(rd, SNAPSHOT_TAG_VIRTIO_MMIO, 0,
					   &ms, sizeof(ms));
	bool have_bs = !snapfile_get_exact(rd, SNAPSHOT_TAG_BALLOON, 0, &bs,
					   sizeof(bs));
	/* snapshot_load refuses a file with a balloon and without either. */
	if (!have_ms || !have_bs)
		return;
	uint8_t *ram = calloc(1, RAM_BYTES);
	if (!ram)
		return;
	load_ram(rd, ram);
	gmem_init_external(&mem, 0, ram, RAM_BYTES);
	if (!bed_up(&a, &cfg, &mem))
		goto out;
	if (bed_restore(&a, &ms, &bs))
		goto out;
	bed_run(&a);
	/* Whatever state it reached, a snapshot of it restores. */
	recording_discard_complete_all(&a.rd, 0);
	if (balloon_save(&a.b, &bs2) || virtio_mmio_save(&a.t, &ms2))
		__builtin_trap();
	if (!bed_up(&b, &cfg, &mem))
		__builtin_trap();
	if (bed_restore(&b, &ms2, &bs2))
		__builtin_trap();
	bed_down(&b);
out:
	bed_down(&a);
	free(ram);
}

static void run_sections(const struct snapfile_reader *rd)
{
	check_kvm_blobs(rd);
	restore_serial(rd);
	restore_balloon(rd);
}

static size_t fixed_size(uint32_t tag)
{
	switch (tag) {
	case SNAPSHOT_TAG_MACHINE: return sizeof(struct snapshot_machine);
	case SNAPSHOT_TAG_SERIAL: return sizeof(struct serial_state);
	case SNAPSHOT_TAG_VIRTIO_MMIO: return sizeof(struct virtio_mmio_state);
	case SNAPSHOT_TAG_BALLOON: return sizeof(struct balloon_state);
	default: return 0;
	}
}

/* Half 2: the input's sections in a freshly written image. */
static void rebuild(const uint8_t *data, size_t size)
{
	static uint8_t fixed[MAX_FIXED_BYTES];
	struct snapfile_writer w;
	struct snapfile_reader rd;
	const void *img;
	size_t img_len, off = 0;
	if (size >= 32 && !memcmp(data, "MVMMSNAP", 8))
		off = 32;
	snapfile_writer_init(&w);
	for (unsigned n = 0; n < MAX_SECTIONS && size - off >= 16; n++) {
		uint32_t tag = le32_at(data + off);
		uint32_t inst = le32_at(data + off + 4);
		uint64_t len = le64_at(data + off + 8);
		off += 16;
		len = MIN(len, (uint64_t)(size - off));
		const uint8_t *p = data + off;
		off += MIN(ALIGN_UP(len, 8), (uint64_t)(size - off));
		size_t want = fixed_size(tag);
		if (want && len != want) {
			memset(fixed, 0, want);
			memcpy(fixed, p, MIN(len, (uint64_t)want));
			snapfile_put(&w, tag, inst, fixed, want);
		} else {
			snapfile_put(&w, tag, inst, p, (size_t)len);
		}
	}
	if (snapfile_writer_image(&w, SNAPFILE_ARCH_X86_64, &img, &img_len))
		__builtin_trap();
	if (snapfile_reader_parse(&rd, img, img_len, SNAPFILE_ARCH_X86_64, NULL, 0))
		__builtin_trap();
	run_sections(&rd);
	snapfile_reader_free(&rd);
	snapfile_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapfile_reader rd;
	char err[256];
	log_set_level(LOG_ERROR);
	/* Half 1: the input as a state file. */
	if (!snapfile_reader_parse(&rd, data, size, SNAPFILE_ARCH_X86_64, err,
				   sizeof(err))) {
		run_sections(&rd);
		snapfile_reader_free(&rd);
	}
	rebuild(data, size);
	return 0;
}
