/* Dirty page logging: the ring walk on crafted rings, then both modes
 * against /dev/kvm with a tiny flat 32-bit guest that writes chosen pages
 * (skipped where /dev/kvm cannot be opened). */
#include "fakes/kvm_guest.h"
#include "vm/dirty_log.h"
#include "vm/vcpu.h"

#include <core/log.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

TestSuite(dirty_log);

#define F_DIRTY ((uint32_t)KVM_DIRTY_GFN_F_DIRTY)
#define F_RESET ((uint32_t)KVM_DIRTY_GFN_F_RESET)

/* ---- the ring walk, on crafted rings ---- */

#define RING 8u

struct bed {
	struct kvm_dirty_gfn g[RING];
	uint64_t pages[2];
	/* slot 0: 128 pages (2 words) + a guard word; slot 1: 64 pages + guard */
	uint64_t b0[3], b1[2];
	uint64_t *bits[2];
	struct dirty_log_harvest h;
};

static void bed_init(struct bed *t)
{
	memset(t, 0, sizeof(*t));
	t->pages[0] = 128;
	t->pages[1] = 64;
	t->bits[0] = t->b0;
	t->bits[1] = t->b1;
	t->h.nr_slots = 2;
	t->h.slot_pages = t->pages;
	t->h.bits = t->bits;
}

static void put(struct bed *t, uint32_t idx, uint32_t flags, uint32_t slot,
		uint64_t offset)
{
	t->g[idx % RING] = (struct kvm_dirty_gfn){flags, slot, offset};
}

Test(dirty_log, harvest_marks_pages_and_flags_entries_for_reset)
{
	struct bed t;
	bed_init(&t);
	put(&t, 0, F_DIRTY, 0, 3);
	put(&t, 1, F_DIRTY, 1, 63);
	put(&t, 2, F_DIRTY, 0, 127);
	uint32_t fetch = 0;
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 3);
	cr_assert_eq(fetch, 3);
	cr_assert_eq(t.b0[0], 1ULL << 3);
	cr_assert_eq(t.b0[1], 1ULL << 63);
	cr_assert_eq(t.b1[0], 1ULL << 63);
	cr_assert_eq(t.h.marked, 3);
	cr_assert_eq(t.h.bad, 0);
	cr_assert_not(t.h.overrun);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(t.g[i].flags, F_RESET, "entry %u", i);
	cr_assert_eq(t.g[3].flags, 0);
}

Test(dirty_log, walk_stops_at_an_entry_not_yet_dirty)
{
	struct bed t;
	bed_init(&t);
	put(&t, 0, F_DIRTY, 0, 1);
	uint32_t fetch = 0;
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 1);
	cr_assert_eq(fetch, 1);
	/* KVM pushes the next one later: the next walk starts there. */
	put(&t, 1, F_DIRTY, 0, 2);
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 1);
	cr_assert_eq(fetch, 2);
	cr_assert_eq(t.b0[0], 0x6ULL);
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 0);
	cr_assert_eq(fetch, 2);
}

Test(dirty_log, entries_awaiting_reset_are_not_harvested_twice)
{
	struct bed t;
	bed_init(&t);
	put(&t, 0, F_DIRTY, 0, 5);
	uint32_t fetch = 0;
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 1);
	t.b0[0] = 0;
	/* A second walker with a stale index sees only the reset flag. */
	uint32_t stale = 0;
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &stale, &t.h), 0);
	cr_assert_eq(t.b0[0], 0);
	cr_assert_eq(t.h.marked, 1);
}

Test(dirty_log, walk_wraps_around_the_ring_and_its_index)
{
	struct bed t;
	bed_init(&t);
	/* The free-running index is about to wrap its 32 bits too. */
	uint32_t fetch = UINT32_MAX - 1; /* slot RING - 2 */
	for (uint32_t i = 0; i < 4; i++)
		put(&t, fetch + i, F_DIRTY, 0, 10 + i);
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 4);
	cr_assert_eq(fetch, 2);
	cr_assert_eq(t.b0[0], 0xfULL << 10);
	cr_assert_eq(t.g[RING - 2].flags, F_RESET);
	cr_assert_eq(t.g[1].flags, F_RESET);
	cr_assert_eq(t.g[2].flags, 0);
}

Test(dirty_log, bad_slot_or_offset_is_counted_and_never_written)
{
	struct bed t;
	bed_init(&t);
	put(&t, 0, F_DIRTY, 2, 0);               /* no such slot */
	put(&t, 1, F_DIRTY, 0, 128);             /* one past slot 0 */
	put(&t, 2, F_DIRTY, 1, 64);              /* one past slot 1 */
	put(&t, 3, F_DIRTY, 1u << 16, 0);        /* address space 1 */
	put(&t, 4, F_DIRTY, 0, UINT64_MAX);      /* far out */
	put(&t, 5, F_DIRTY, 0, 0);               /* the one good entry */
	uint32_t fetch = 0;
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 6);
	cr_assert_eq(t.h.bad, 5);
	cr_assert_eq(t.h.marked, 1);
	cr_assert_eq(t.b0[0], 1);
	cr_assert_eq(t.b0[1], 0);
	cr_assert_eq(t.b0[2], 0, "guard word after slot 0 written");
	cr_assert_eq(t.b1[0], 0);
	cr_assert_eq(t.b1[1], 0, "guard word after slot 1 written");
	for (unsigned i = 0; i < 6; i++)
		cr_assert_eq(t.g[i].flags, F_RESET, "bad entry %u left dirty", i);
}

Test(dirty_log, dropping_still_flags_entries_for_reset)
{
	struct bed t;
	bed_init(&t);
	t.h.bits = NULL;
	put(&t, 0, F_DIRTY, 0, 7);
	uint32_t fetch = 0;
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 1);
	cr_assert_eq(t.g[0].flags, F_RESET);
	cr_assert_eq(t.b0[0], 0);
}

Test(dirty_log, a_full_ring_is_walked_once_and_reported_as_overrun)
{
	struct bed t;
	bed_init(&t);
	for (uint32_t i = 0; i < RING; i++)
		put(&t, i, F_DIRTY, 0, i);
	uint32_t fetch = 0;
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), RING);
	cr_assert_eq(fetch, RING);
	cr_assert_eq(t.b0[0], 0xffULL);
	cr_assert(t.h.overrun);
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 0);
}

Test(dirty_log, a_hole_before_dirty_entries_is_skipped_as_overrun)
{
	struct bed t;
	bed_init(&t);
	/* KVM overran: entry 2 was reset with the previous lap, 3 and 4 are
	 * new pushes. Skipping re-syncs with KVM. */
	put(&t, 2, 0, 0, 40);
	put(&t, 3, F_DIRTY, 0, 41);
	put(&t, 4, F_DIRTY, 0, 42);
	uint32_t fetch = 2;
	cr_assert_eq(dirty_log_harvest_ring(t.g, RING, &fetch, &t.h), 3);
	cr_assert_eq(fetch, 5);
	cr_assert_eq(t.h.holes, 1);
	cr_assert(t.h.overrun);
	cr_assert_eq(t.b0[0], 3ULL << 41, "hole entry must not be marked");
	cr_assert_eq(t.g[2].flags, F_RESET, "KVM's reset must get past it");
}

/* ---- against /dev/kvm ---- */

#define MIB (1ULL << 20)
#define SLOT1_GPA (64 * MIB)
#define CODE_GPA 0x1000u

/* What the dirty log works on: a VM fd, guest memory, a vCPU's fd. */
struct tvm {
	struct kvm_guest g;
	struct dirty_log dirty;
	struct vcpu_env env;
	struct vcpu vcpu;
};

/* The ring is only for VMs that run hints. */
static bool tvm_want_ring = true;

static void tvm_open(struct tvm *vm, const char *mode)
{
	memset(vm, 0, sizeof(*vm));
	/* Slot 1 ends mid-word: 515 pages. */
	const uint64_t ranges[2][2] = {{0, 24 * MIB},
				       {SLOT1_GPA, 2 * MIB + 3 * 4096}};
	kvm_guest_open(&vm->g, ranges, 2);
	vm->env = (struct vcpu_env){.vm_fd = vm->g.vm_fd,
				    .mmap_size = vm->g.vcpu_mmap_size};
	if (mode)
		setenv("MVMM_DIRTY_LOG", mode, 1);
	else
		unsetenv("MVMM_DIRTY_LOG");
	log_set_level(LOG_WARN);
	cr_assert_eq(dirty_log_init(&vm->dirty, vm->g.vm_fd, &vm->g.mem, 1,
				    tvm_want_ring), 0);
	cr_assert_eq(vcpu_create(&vm->vcpu, &vm->env, 0), 0);
	cr_assert_eq(dirty_log_map_ring(&vm->dirty, 0, vm->vcpu.fd), 0);
}

static void tvm_close(struct tvm *vm)
{
	dirty_log_unmap_ring(&vm->dirty, 0);
	vcpu_destroy(&vm->vcpu);
	dirty_log_destroy(&vm->dirty);
	kvm_guest_close(&vm->g);
}

static void require_ring(struct tvm *vm)
{
	if (!vm->dirty.ring) {
		tvm_close(vm);
		cr_skip_test("KVM offers no dirty ring here");
	}
}

static uint8_t *emit32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

/* Flat 32-bit code at CODE_GPA: for each {gpa, n} writes a byte to each of n
 * pages from gpa, with an OUT after each write so that KVM checks its ring
 * between writes as it does for a real guest; then HLT. */
static void tvm_load(struct tvm *vm, const uint32_t (*runs)[2], unsigned nr)
{
	uint8_t *p = gmem_ptr(&vm->g.mem, CODE_GPA, 4096), *start = p;
	cr_assert_not_null(p);
	for (unsigned i = 0; i < nr; i++) {
		*p++ = 0xbf; /* mov edi, gpa */
		p = emit32(p, runs[i][0]);
		*p++ = 0xb9; /* mov ecx, n */
		p = emit32(p, runs[i][1]);
		static const uint8_t loop[] = {
			0xc6, 0x07, 0x01,                   /* mov byte [edi], 1 */
			0xe6, 0x80,                         /* out 0x80, al */
			0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, /* add edi, 4096 */
			0x49,                               /* dec ecx */
			0x75, 0xf2,                         /* jnz mov */
		};
		memcpy(p, loop, sizeof(loop));
		p += sizeof(loop);
		cr_assert_lt(p - start, 4000);
	}
	*p = 0xf4; /* hlt */

	kvm_guest_enter_flat32(vm->vcpu.fd, CODE_GPA);
}

/* Runs to HLT; a full ring is handled the way the VM's vCPUs do. */
static unsigned tvm_run(struct tvm *vm)
{
	struct vcpu *v = &vm->vcpu;
	unsigned fulls = 0;
	for (unsigned n = 0; n < 100000; n++) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			cr_assert(errno == EINTR || errno == EAGAIN,
				  "KVM_RUN: %s", strerror(errno));
			continue;
		}
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			continue;
		case KVM_EXIT_DIRTY_RING_FULL:
			cr_assert_eq(dirty_log_ring_full(&vm->dirty, 0), 0);
			fulls++;
			continue;
		case KVM_EXIT_HLT:
			return fulls;
		default:
			cr_assert_fail("guest stopped with KVM exit %u",
				       v->run->exit_reason);
		}
	}
	cr_assert_fail("guest did not reach HLT");
	return fulls;
}

static uint64_t *words(uint64_t pages)
{
	uint64_t *b = calloc((size_t)((pages + 63) / 64), 8);
	cr_assert_not_null(b);
	return b;
}

static void zero(uint64_t *b, uint64_t pages)
{
	memset(b, 0, (size_t)((pages + 63) / 64) * 8);
}

static void set_run(uint64_t *b, uint64_t first, uint64_t n)
{
	for (uint64_t p = first; p < first + n; p++)
		b[p / 64] |= 1ULL << (p % 64);
}

static void assert_bits(const uint64_t *got, const uint64_t *want,
			uint64_t pages, const char *what)
{
	for (uint64_t w = 0; w < (pages + 63) / 64; w++)
		cr_assert_eq(got[w], want[w], "%s: word %llu is %#llx, want %#llx",
			     what, (unsigned long long)w,
			     (unsigned long long)got[w],
			     (unsigned long long)want[w]);
}

static const uint64_t S0_PAGES = 24 * MIB / 4096, S1_PAGES = 515;

/* Writes to both slots show once, and only the pages written. */
static void check_written_pages_fetched_once(const char *mode)
{
	struct tvm vm;
	tvm_open(&vm, mode);
	if (!mode)
		require_ring(&vm);
	cr_assert_str_eq(dirty_log_mode(&vm.dirty), mode ? mode : "ring");
	const uint32_t runs[][2] = {{0x100000, 16}, {0x3ff000, 3},
				    {(uint32_t)SLOT1_GPA + 0x5000, 2}};
	tvm_load(&vm, runs, 3);
	cr_assert_eq(dirty_log_enable(&vm.dirty, true), 0);
	tvm_run(&vm);

	uint64_t *b0 = words(S0_PAGES), *b1 = words(S1_PAGES);
	uint64_t *w0 = words(S0_PAGES), *w1 = words(S1_PAGES);
	/* Fetch ORs into what the caller had. */
	b0[5] = w0[5] = 0xa5a5ULL;
	set_run(w0, 0x100, 16);
	set_run(w0, 0x3ff, 3);
	set_run(w1, 5, 2);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 0, b0), 0);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 1, b1), 0);
	assert_bits(b0, w0, S0_PAGES, "slot 0");
	assert_bits(b1, w1, S1_PAGES, "slot 1");

	zero(b0, S0_PAGES);
	zero(w0, S0_PAGES);
	zero(b1, S1_PAGES);
	zero(w1, S1_PAGES);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 0, b0), 0);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 1, b1), 0);
	assert_bits(b0, w0, S0_PAGES, "slot 0, second fetch");
	assert_bits(b1, w1, S1_PAGES, "slot 1, second fetch");
	free(b0), free(b1), free(w0), free(w1);
	tvm_close(&vm);
}

Test(dirty_log, bitmap_reports_written_pages_once)
{
	check_written_pages_fetched_once("bitmap");
}

Test(dirty_log, ring_reports_written_pages_once)
{
	check_written_pages_fetched_once(NULL);
}

static void check_enable_forgets_earlier_writes(const char *mode)
{
	struct tvm vm;
	tvm_open(&vm, mode);
	if (!mode)
		require_ring(&vm);
	const uint32_t runs[][2] = {{0x200000, 8}};
	tvm_load(&vm, runs, 1);
	cr_assert_eq(dirty_log_enable(&vm.dirty, true), 0);
	tvm_run(&vm);
	cr_assert_eq(dirty_log_enable(&vm.dirty, true), 0); /* again: a fresh start */
	uint64_t *b0 = words(S0_PAGES), *w0 = words(S0_PAGES);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 0, b0), 0);
	assert_bits(b0, w0, S0_PAGES, "after re-enable");

	/* The same pages written again are logged again. */
	tvm_load(&vm, runs, 1);
	tvm_run(&vm);
	set_run(w0, 0x200, 8);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 0, b0), 0);
	assert_bits(b0, w0, S0_PAGES, "second run");
	free(b0), free(w0);
	tvm_close(&vm);
}

Test(dirty_log, bitmap_enable_forgets_earlier_writes)
{
	check_enable_forgets_earlier_writes("bitmap");
}

Test(dirty_log, ring_enable_forgets_earlier_writes)
{
	check_enable_forgets_earlier_writes(NULL);
}

Test(dirty_log, ring_full_exit_is_harvested_and_nothing_is_lost)
{
	struct tvm vm;
	tvm_open(&vm, NULL);
	require_ring(&vm);
	/* More pages than one ring holds. */
	uint32_t n = vm.dirty.ring_entries + vm.dirty.ring_entries / 4;
	cr_assert_lt(0x100 + (uint64_t)n, S0_PAGES);
	const uint32_t runs[][2] = {{0x100000, n}};
	tvm_load(&vm, runs, 1);
	cr_assert_eq(dirty_log_enable(&vm.dirty, true), 0);
	unsigned fulls = tvm_run(&vm);
	cr_assert_geq(fulls, 1, "no KVM_EXIT_DIRTY_RING_FULL");
	uint64_t *b0 = words(S0_PAGES), *w0 = words(S0_PAGES);
	set_run(w0, 0x100, n);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 0, b0), 0);
	assert_bits(b0, w0, S0_PAGES, "after ring-full exits");
	cr_assert_eq(vm.dirty.bad_entries, 0);
	cr_assert_eq(vm.dirty.holes, 0);
	free(b0), free(w0);
	tvm_close(&vm);
}

Test(dirty_log, ring_mode_maps_a_ring_per_vcpu_and_env_forces_bitmap)
{
	struct tvm vm;
	tvm_open(&vm, "bitmap");
	cr_assert_str_eq(dirty_log_mode(&vm.dirty), "bitmap");
	cr_assert_null(vm.dirty.rings[0].gfns);
	cr_assert_eq(dirty_log_ring_bytes(&vm.dirty), 0);
	int max = ioctl(vm.g.vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
	tvm_close(&vm);

	tvm_open(&vm, NULL);
	if (max <= 0) {
		cr_assert_str_eq(dirty_log_mode(&vm.dirty), "bitmap");
		tvm_close(&vm);
		cr_skip_test("KVM offers no dirty ring here");
	}
	cr_log_info("KVM_CAP_DIRTY_LOG_RING: %d bytes", max);
	cr_assert_str_eq(dirty_log_mode(&vm.dirty), "ring");
	cr_assert_not_null(vm.dirty.rings[0].gfns);
	cr_assert_eq(dirty_log_ring_bytes(&vm.dirty),
		     (size_t)vm.dirty.ring_entries * sizeof(struct kvm_dirty_gfn));
	cr_assert_leq(dirty_log_ring_bytes(&vm.dirty), (size_t)max);
	for (uint32_t i = 0; i < vm.dirty.ring_entries; i++)
		cr_assert_eq(vm.dirty.rings[0].gfns[i].flags, 0);
	tvm_close(&vm);
}

Test(dirty_log, a_vm_without_hinting_keeps_the_bitmap)
{
	struct tvm vm;
	tvm_want_ring = false;
	tvm_open(&vm, NULL);
	tvm_want_ring = true;
	cr_assert_str_eq(dirty_log_mode(&vm.dirty), "bitmap");
	cr_assert_null(vm.dirty.rings[0].gfns);
	tvm_close(&vm);
}

Test(dirty_log, fetch_refuses_unknown_slot_and_logging_off)
{
	struct tvm vm;
	tvm_open(&vm, "bitmap");
	uint64_t *b0 = words(S0_PAGES);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 0, b0), -ENOENT);
	cr_assert_eq(dirty_log_enable(&vm.dirty, true), 0);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 2, b0), -EINVAL);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 0, b0), 0);
	cr_assert_eq(dirty_log_enable(&vm.dirty, false), 0);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 0, b0), -ENOENT);
	free(b0);
	tvm_close(&vm);
}

Test(dirty_log, an_overrun_slot_reports_each_of_its_pages_once)
{
	struct tvm vm;
	tvm_open(&vm, "bitmap");
	cr_assert_eq(dirty_log_enable(&vm.dirty, true), 0);
	/* What dirty_log_harvest_ring's overrun leads to, on slot 1 alone. */
	vm.dirty.overflow[1] = true;
	uint64_t *b0 = words(S0_PAGES), *b1 = words(S1_PAGES);
	uint64_t *w0 = words(S0_PAGES), *w1 = words(S1_PAGES);
	set_run(w1, 0, S1_PAGES);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 0, b0), 0);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 1, b1), 0);
	assert_bits(b0, w0, S0_PAGES, "slot 0");
	assert_bits(b1, w1, S1_PAGES, "slot 1: every page, none past its end");
	zero(b1, S1_PAGES);
	zero(w1, S1_PAGES);
	cr_assert_eq(dirty_log_fetch(&vm.dirty, 1, b1), 0);
	assert_bits(b1, w1, S1_PAGES, "slot 1, second fetch");
	free(b0), free(b1), free(w0), free(w1);
	tvm_close(&vm);
}
