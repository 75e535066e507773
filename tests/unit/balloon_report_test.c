/* virtio-balloon free page reporting and page poison, driven like Linux's
 * page_reporting (scatter lists of order >= 9 free blocks, device-writable)
 * against a recording discard backend. */
#include "fakes/fake_balloon_driver.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define F(b) FBD_BIT(b)
#define F_REPORTING 5
#define MIB (1ULL << 20)
#define ORDER9 (2 * MIB)
#define ORDER10 (4 * MIB)

static struct fbd_bed *bed;
static struct fbd *drv;

static void teardown(void)
{
	fbd_bed_free(bed);
	bed = NULL;
}

TestSuite(balloon_report, .fini = teardown);

static void up_with(uint64_t ram_bytes, const struct fbd_opts *o)
{
	struct balloon_config cfg = {.free_page_reporting = true};
	struct fbd_layout l = {.ram_bytes = ram_bytes};
	bed = fbd_bed_new(&cfg, &l);
	cr_assert(bed);
	drv = &bed->drv;
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, o), 0);
	cr_assert_geq(drv->q[BALLOON_Q_REPORTING], 0);
}

static void up(void)
{
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES};
	up_with(16 * MIB, &o);
}

static struct balloon_metrics metrics(void)
{
	struct balloon_metrics m;
	balloon_get_metrics(&bed->b, &m);
	return m;
}

static int cmp_range(const void *a, const void *b)
{
	const struct recording_discard_range *x = a, *y = b;
	return (x->gpa > y->gpa) - (x->gpa < y->gpa);
}

static void expect_ranges(const uint64_t (*want)[2], unsigned n)
{
	struct recording_discard *rd = &bed->rd;
	cr_assert_eq(rd->nr, n, "queued %u ranges, expected %u", rd->nr, n);
	qsort(rd->ranges, rd->nr, sizeof(*rd->ranges), cmp_range);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(rd->ranges[i].gpa, want[i][0], "range %u at 0x%llx",
			     i, (unsigned long long)rd->ranges[i].gpa);
		cr_assert_eq(rd->ranges[i].len, want[i][1], "range %u len 0x%llx",
			     i, (unsigned long long)rd->ranges[i].len);
	}
}

Test(balloon_report, order_9_and_10_ranges_are_discarded_before_the_used_entry)
{
	up();
	struct fake_driver_sg r[2] = {{8 * MIB, ORDER10}, {4 * MIB, ORDER9}};
	int head = fbd_report(drv, r, 2);
	cr_assert_geq(head, 0);
	const uint64_t want[][2] = {{4 * MIB, ORDER9}, {8 * MIB, ORDER10}};
	expect_ranges(want, 2);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL), -EAGAIN);
	cr_assert_eq(recording_discard_complete_all(&bed->rd, 0), 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL), head);
	struct balloon_metrics m = metrics();
	cr_assert_eq(m.reports, 1);
	cr_assert_eq(m.report_ranges, 2);
	cr_assert_eq(m.report_bytes, ORDER9 + ORDER10);
	cr_assert_eq(m.discard_bytes, 0, "reporting is counted apart");
	cr_assert_gt(m.report_latency_max_ns, 0);
	cr_assert_geq(m.report_latency_total_ns, m.report_latency_max_ns);
	struct balloon_info info;
	balloon_get_info(&bed->b, &info);
	cr_assert(info.free_page_reporting);
}

Test(balloon_report, a_full_capacity_report_of_adjacent_blocks_is_one_range)
{
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES};
	up_with(72 * MIB, &o);
	/* PAGE_REPORTING_CAPACITY (32) order-9 blocks, shuffled. */
	struct fake_driver_sg r[32];
	for (unsigned i = 0; i < 32; i++)
		r[i] = (struct fake_driver_sg){
			8 * MIB + ((i * 7) % 32) * ORDER9, ORDER9};
	fbd_report(drv, r, 32);
	const uint64_t want[][2] = {{8 * MIB, 32 * ORDER9}};
	expect_ranges(want, 1);
	cr_assert_eq(metrics().report_bytes, 64 * MIB);
}

Test(balloon_report, overlapping_ranges_are_discarded_once)
{
	up();
	struct fake_driver_sg r[3] = {
		{4 * MIB, ORDER10}, {6 * MIB, ORDER9}, {7 * MIB, ORDER9}};
	fbd_report(drv, r, 3);
	const uint64_t want[][2] = {{4 * MIB, 5 * MIB}};
	expect_ranges(want, 1);
	cr_assert_eq(metrics().report_bytes, 5 * MIB);
}

Test(balloon_report, misaligned_and_empty_ranges_are_skipped_and_counted)
{
	up();
	struct fake_driver_sg r[4] = {
		{4 * MIB, 0},        /* zero length */
		{4 * MIB + 1, 4096}, /* unaligned start */
		{6 * MIB, 4095},     /* unaligned length */
		{8 * MIB, ORDER9},   /* the one good range */
	};
	int head = fbd_report(drv, r, 4);
	const uint64_t want[][2] = {{8 * MIB, ORDER9}};
	expect_ranges(want, 1);
	cr_assert_eq(metrics().invalid_report_ranges, 3);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL), -EAGAIN);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL), head);

	/* Nothing valid at all: used at once. */
	head = fbd_report(drv, r, 3);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL), head);
	cr_assert_eq(metrics().invalid_report_ranges, 6);
	cr_assert_eq(bed->rd.nr, 1);
}

/* A range outside guest RAM is a malformed descriptor: the whole report is
 * refused (its valid range too) and the device asks for a reset. */
Test(balloon_report, ranges_past_ram_discard_nothing_and_need_reset)
{
	const uint64_t bad[][2] = {
		{15 * MIB, ORDER9},            /* runs past RAM */
		{16 * MIB, ORDER9},            /* starts past RAM */
		{0xfffffffffffff000ULL, 8192}, /* wraps */
	};
	for (unsigned i = 0; i < 3; i++) {
		up();
		struct fake_driver_sg r[2] = {{4 * MIB, ORDER9},
					      {bad[i][0], (uint32_t)bad[i][1]}};
		fbd_report(drv, r, 2);
		cr_assert_eq(bed->rd.nr, 0);
		cr_assert(fake_driver_status(&bed->tb->drv) &
			  VIRTIO_CONFIG_S_NEEDS_RESET);
		cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL),
			     -EAGAIN);
		fbd_bed_free(bed);
		bed = NULL;
	}
}

Test(balloon_report, nonzero_poison_skips_discard)
{
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES,
				   .page_poisoning = true};
	up_with(16 * MIB, &o);
	cr_assert(fbd_has(drv, VIRTIO_BALLOON_F_PAGE_POISON));
	cr_assert(fbd_has(drv, F_REPORTING));
	struct fake_driver_sg r[2] = {{4 * MIB, ORDER9}, {8 * MIB, ORDER10}};
	int head = fbd_report(drv, r, 2);
	cr_assert_eq(bed->rd.nr, 0, "a discarded page would read zero");
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL), head);
	struct balloon_metrics m = metrics();
	cr_assert_eq(m.report_poison_skipped_bytes, ORDER9 + ORDER10);
	cr_assert_eq(m.report_bytes, 0);
	struct balloon_info info;
	balloon_get_info(&bed->b, &info);
	cr_assert_eq(info.poison_val, 0xaaaaaaaa);
}

Test(balloon_report, zero_poison_from_init_on_free_discards)
{
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES,
				   .init_on_free = true};
	up_with(16 * MIB, &o);
	cr_assert(fbd_has(drv, VIRTIO_BALLOON_F_PAGE_POISON));
	struct fake_driver_sg r = {4 * MIB, ORDER9};
	fbd_report(drv, &r, 1);
	const uint64_t want[][2] = {{4 * MIB, ORDER9}};
	expect_ranges(want, 1);
	cr_assert_eq(metrics().report_poison_skipped_bytes, 0);
}

Test(balloon_report, guest_without_poisoning_reports_without_page_poison)
{
	up();
	/* virtballoon_validate clears PAGE_POISON and keeps REPORTING. */
	cr_assert_not(fbd_has(drv, VIRTIO_BALLOON_F_PAGE_POISON));
	struct fake_driver_sg r = {4 * MIB, ORDER9};
	fbd_report(drv, &r, 1);
	cr_assert_eq(bed->rd.nr, 1);
}

Test(balloon_report, poisoning_guest_keeps_reporting_because_poison_is_offered)
{
	/* A device without PAGE_POISON would lose reporting to such a guest;
	 * the balloon offers both, so reporting stays. */
	struct balloon_config cfg = {.free_page_reporting = true};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	uint64_t offer = fake_driver_device_features(&bed->tb->drv);
	cr_assert(offer & F(VIRTIO_BALLOON_F_PAGE_POISON));
	const struct fbd_opts o = {
		.features = FBD_LINUX_FEATURES & ~F(VIRTIO_BALLOON_F_PAGE_POISON),
		.page_poisoning = true};
	/* A driver that will not do PAGE_POISON must drop REPORTING. */
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, &o), 0);
	cr_assert_not(fbd_has(&bed->drv, F_REPORTING));
	cr_assert_eq(bed->drv.q[BALLOON_Q_REPORTING], -1);
}

Test(balloon_report, reporting_is_not_offered_unless_configured)
{
	struct balloon_config cfg = {0};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES,
				   .init_on_free = true};
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, &o), 0);
	cr_assert_eq(bed->drv.q[BALLOON_Q_REPORTING], -1);
	struct balloon_info info;
	balloon_get_info(&bed->b, &info);
	cr_assert_not(info.free_page_reporting);
}

/* The safety rule seen from the guest: whenever a report's used entry is
 * visible, its pages already read back zero (the fake zero-fills on
 * completion like MADV_DONTNEED). Completions come in random order. */
Test(balloon_report, used_entry_never_precedes_its_discard)
{
	up();
	bed->rd.zero_fill = true;
	enum { NREP = 8, SLOT = 3 * MIB / 2 };
	struct fake_driver_sg r[NREP][3];
	unsigned nr[NREP];
	int head_of[NREP];
	bool seen[NREP] = {0};
	uint8_t *ram = bed->tb->ram;
	srand(77);
	for (unsigned i = 0; i < NREP; i++) {
		uint64_t base = MIB + (uint64_t)i * SLOT;
		nr[i] = 1 + (unsigned)rand() % 3;
		for (unsigned k = 0; k < nr[i]; k++) {
			uint64_t off = ((uint64_t)rand() % 256) * 4096;
			uint64_t len = (1 + (uint64_t)rand() % 64) * 4096;
			r[i][k] = (struct fake_driver_sg){base + off,
							  (uint32_t)len};
			memset(ram + base + off, 0x5a, len); /* guest data */
		}
		head_of[i] = fbd_report(drv, r[i], nr[i]);
		cr_assert_geq(head_of[i], 0);
	}
	unsigned used_total = 0;
	while (used_total < NREP) {
		void *cookies[NREP];
		unsigned n = recording_discard_pending_cookies(&bed->rd, cookies,
								NREP);
		cr_assert_gt(n, 0);
		recording_discard_complete_cookie(&bed->rd,
						  cookies[(unsigned)rand() % n], 0);
		int head;
		while ((head = fbd_get_used(drv, BALLOON_Q_REPORTING, NULL)) >=
		       0) {
			unsigned i = 0;
			while (i < NREP && head_of[i] != head)
				i++;
			cr_assert_lt(i, NREP);
			cr_assert_not(seen[i]);
			seen[i] = true;
			used_total++;
			for (unsigned k = 0; k < nr[i]; k++)
				for (uint64_t b = 0; b < r[i][k].len; b += 4096)
					cr_assert_eq(ram[r[i][k].gpa + b], 0,
						     "report %u used before its "
						     "discard",
						     i);
		}
		/* Reports not used yet were not discarded yet either. */
		for (unsigned i = 0; i < NREP; i++)
			if (!seen[i])
				cr_assert_eq(ram[r[i][0].gpa], 0x5a);
	}
}

Test(balloon_report, reset_with_reports_in_flight_writes_no_used_entry)
{
	up();
	struct fake_driver_sg r = {4 * MIB, ORDER9};
	fbd_report(drv, &r, 1);
	fbd_bed_reset_completing_discards(bed);
	fbd_destroy(drv);
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES};
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, &o), 0);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL), -EAGAIN);
	cr_assert_eq(metrics().orphaned_requests, 1);
}
