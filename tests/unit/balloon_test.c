/* virtio-balloon: features, queue numbering, config space, inflate/deflate
 * and request ordering, driven by a simulated Linux driver through
 * virtio-mmio against a recording discard backend. */
#include "fakes/fake_balloon_driver.h"

#include <criterion/criterion.h>
#include <time.h>
#include <pthread.h>
#include <endian.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F(b) FBD_BIT(b)
#define F_REPORTING 5
#define MIB (1ULL << 20)
#define PFN(gpa) ((uint32_t)((gpa) >> 12))

static struct fbd_bed *bed;
static struct fbd *drv;

static void teardown(void)
{
	fbd_bed_free(bed);
	bed = NULL;
}

TestSuite(balloon, .fini = teardown);

static const struct fbd_opts linux_opts = {.features = FBD_LINUX_FEATURES};

static void up_with(const struct balloon_config *cfg,
		    const struct fbd_layout *layout, const struct fbd_opts *o)
{
	bed = fbd_bed_new(cfg, layout);
	cr_assert(bed);
	drv = &bed->drv;
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, o), 0);
}

static void up(void)
{
	struct balloon_config cfg = {.amount_mib = 0};
	up_with(&cfg, NULL, &linux_opts);
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

/* Asserts that exactly these [gpa, len) ranges were queued. */
static void expect_ranges(const uint64_t (*want)[2], unsigned n)
{
	struct recording_discard *rd = &bed->rd;
	cr_assert_eq(rd->nr, n, "queued %u ranges, expected %u", rd->nr, n);
	struct recording_discard_range *got = malloc(n * sizeof(*got) + 1);
	memcpy(got, rd->ranges, n * sizeof(*got));
	qsort(got, n, sizeof(*got), cmp_range);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(got[i].gpa, want[i][0],
			     "range %u at 0x%llx, expected 0x%llx", i,
			     (unsigned long long)got[i].gpa,
			     (unsigned long long)want[i][0]);
		cr_assert_eq(got[i].len, want[i][1], "range %u len 0x%llx", i,
			     (unsigned long long)got[i].len);
		cr_assert_eq(got[i].gpa - got[i].region->gpa, got[i].offset);
	}
	free(got);
}

/* ---- features and queue numbering ---- */

Test(balloon, offers_must_tell_host_and_stats_only_by_default)
{
	struct balloon_config cfg = {0};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	uint64_t offer = fvd_device_features(&bed->tb->drv);
	cr_assert(offer & F(VIRTIO_BALLOON_F_MUST_TELL_HOST));
	cr_assert(offer & F(VIRTIO_BALLOON_F_STATS_VQ));
	cr_assert_not(offer & F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	cr_assert_not(offer & F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	cr_assert_not(offer & F(VIRTIO_BALLOON_F_PAGE_POISON));
	cr_assert_not(offer & F(F_REPORTING));
	cr_assert(offer & F(VIRTIO_F_VERSION_1));
}

Test(balloon, offers_deflate_on_oom_reporting_with_poison_and_hinting_when_configured)
{
	struct balloon_config cfg = {.deflate_on_oom = true,
				     .free_page_reporting = true,
				     .free_page_hinting = true};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	uint64_t offer = fvd_device_features(&bed->tb->drv);
	cr_assert(offer & F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	cr_assert(offer & F(F_REPORTING));
	cr_assert(offer & F(VIRTIO_BALLOON_F_PAGE_POISON));
	cr_assert(offer & F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
}

Test(balloon, queue_index_is_compact_for_every_feature_combination)
{
	for (unsigned m = 0; m < 8; m++) {
		uint64_t f = (m & 1 ? F(VIRTIO_BALLOON_F_STATS_VQ) : 0) |
			     (m & 2 ? F(VIRTIO_BALLOON_F_FREE_PAGE_HINT) : 0) |
			     (m & 4 ? F(F_REPORTING) : 0);
		int next = 0;
		cr_assert_eq(balloon_queue_index(f, BALLOON_Q_INFLATE), next++);
		cr_assert_eq(balloon_queue_index(f, BALLOON_Q_DEFLATE), next++);
		cr_assert_eq(balloon_queue_index(f, BALLOON_Q_STATS),
			     m & 1 ? next++ : -1);
		cr_assert_eq(balloon_queue_index(f, BALLOON_Q_FREE_PAGE),
			     m & 2 ? next++ : -1);
		cr_assert_eq(balloon_queue_index(f, BALLOON_Q_REPORTING),
			     m & 4 ? next++ : -1, "mask %u", m);
	}
	cr_assert_eq(balloon_queue_index(~0ULL, BALLOON_Q_NR), -1);
}

/* For each driver choice, the device must find each queue where Linux put
 * it: a stats buffer parsed, a report discarded, an inflate discarded. */
Test(balloon, device_uses_queues_where_linux_numbers_them)
{
	for (unsigned m = 0; m < 4; m++) {
		bool stats = m & 1, rep = m & 2;
		struct balloon_config cfg = {.free_page_reporting = true};
		struct fbd_opts o = {
			.features = F(VIRTIO_BALLOON_F_MUST_TELL_HOST) |
				    (stats ? F(VIRTIO_BALLOON_F_STATS_VQ) : 0) |
				    (rep ? F(F_REPORTING) : 0),
		};
		up_with(&cfg, NULL, &o);
		struct virtio_dev *vd = balloon_virtio_dev(&bed->b);
		cr_assert_eq(vd->ops->num_queues(vd->dev), 2u + stats + rep);
		cr_assert_eq(drv->q[BALLOON_Q_REPORTING],
			     rep ? 2 + (int)stats : -1);

		struct balloon_stats st;
		cr_assert_eq(balloon_get_stats(&bed->b, &st) == 0, stats,
			     "mask %u", m);
		if (rep) {
			struct fvd_sg r = {8 * MIB, 2 * MIB};
			cr_assert_geq(fbd_report(drv, &r, 1), 0);
			const uint64_t want[][2] = {{8 * MIB, 2 * MIB}};
			expect_ranges(want, 1);
			recording_discard_complete_all(&bed->rd, 0);
			recording_discard_clear_completed(&bed->rd);
		}
		uint32_t pfn = PFN(4 * MIB);
		cr_assert_geq(fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1), 0);
		const uint64_t want[][2] = {{4 * MIB, 4096}};
		expect_ranges(want, 1);
		fbd_bed_free(bed);
		bed = NULL;
	}
}

/* ---- MUST_TELL_HOST and silent deflation (seed 000) ---- */

Test(balloon, accepts_silent_deflation_by_default)
{
	struct balloon_config cfg = {0};
	struct fbd_opts o = {.features = FBD_LINUX_FEATURES &
					 ~F(VIRTIO_BALLOON_F_MUST_TELL_HOST)};
	up_with(&cfg, NULL, &o);
	cr_assert_not(fbd_has(drv, VIRTIO_BALLOON_F_MUST_TELL_HOST));
	cr_assert(fvd_status(&bed->tb->drv) & VIRTIO_CONFIG_S_DRIVER_OK);
	uint32_t pfn = PFN(2 * MIB);
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
}

Test(balloon, refuses_driver_without_must_tell_host_when_required)
{
	struct balloon_config cfg = {.require_must_tell_host = true};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	struct fbd_opts o = {.features = FBD_LINUX_FEATURES &
					 ~F(VIRTIO_BALLOON_F_MUST_TELL_HOST)};
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, &o), -EIO);
	cr_assert_not(fvd_status(&bed->tb->drv) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* The same device takes a driver that tells the host. */
	fbd_destroy(&bed->drv);
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, &linux_opts), 0);
	cr_assert(fvd_status(&bed->tb->drv) & VIRTIO_CONFIG_S_DRIVER_OK);
}

/* ---- config space ---- */

Test(balloon, target_sets_num_pages_and_raises_config_interrupt)
{
	struct balloon_config cfg = {.amount_mib = 3};
	up_with(&cfg, NULL, &linux_opts);
	cr_assert_eq(fbd_num_pages(drv), 3 * 256);
	fvd_ack_irq(&bed->tb->drv);
	cr_assert_eq(balloon_set_target_mib(&bed->b, 64), 0);
	cr_assert_eq(fbd_num_pages(drv), 64 * 256);
	cr_assert(fvd_ack_irq(&bed->tb->drv) & VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(balloon_set_target_mib(&bed->b, BALLOON_MAX_TARGET_MIB + 1),
		     -EINVAL);
	cr_assert_eq(fbd_num_pages(drv), 64 * 256);
	struct balloon_info info;
	balloon_get_info(&bed->b, &info);
	cr_assert_eq(info.target_pages, 64 * 256);
	cr_assert_eq(info.target_mib, 64);
}

Test(balloon, rejects_initial_target_too_large)
{
	struct balloon b;
	struct balloon_config cfg = {.amount_mib = BALLOON_MAX_TARGET_MIB + 1};
	cr_assert_eq(balloon_init(&b, &cfg, NULL), -EINVAL);
}

Test(balloon, driver_writes_actual_and_poison_but_not_num_pages)
{
	struct balloon_config cfg = {.amount_mib = 1,
				     .free_page_reporting = true};
	struct fbd_opts o = {.features = FBD_LINUX_FEATURES,
			     .page_poisoning = true};
	up_with(&cfg, NULL, &o);
	fbd_write_actual(drv, 0x12345678);
	cr_assert_eq(fbd_actual(drv), 0x12345678);
	/* Byte writes, as legacy PCI drivers did. */
	uint8_t byte = 0x9a;
	fvd_config_write(&bed->tb->drv, 4, &byte, 1);
	cr_assert_eq(fbd_actual(drv), 0x1234569a);
	uint32_t bogus = htole32(7);
	fvd_config_write(&bed->tb->drv, 0, &bogus, 4);
	cr_assert_eq(fbd_num_pages(drv), 256);
	fvd_config_write(&bed->tb->drv, 8, &bogus, 4);
	uint32_t cmd;
	fvd_config_read(&bed->tb->drv, 8, &cmd, 4);
	cr_assert_eq(cmd, 0);
	struct balloon_info info;
	balloon_get_info(&bed->b, &info);
	cr_assert_eq(info.actual_pages, 0x1234569a);
	cr_assert_eq(info.actual_mib, 0x1234569a / 256);
	cr_assert(info.page_poison);
	cr_assert_eq(info.poison_val, 0xaaaaaaaa);
	/* An 8-byte read spanning two fields. */
	uint64_t both;
	fvd_config_read(&bed->tb->drv, 0, &both, 8);
	cr_assert_eq(le64toh(both), (0x1234569aULL << 32) | 256);
}

Test(balloon, info_reports_negotiated_state)
{
	struct balloon_config cfg = {.deflate_on_oom = true,
				     .free_page_reporting = true,
				     .stats_polling_interval_s = 5};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	struct balloon_info info;
	balloon_get_info(&bed->b, &info);
	cr_assert_not(info.activated);
	cr_assert_not(info.free_page_reporting);
	cr_assert_eq(info.stats_polling_interval_s, 5);
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, &linux_opts), 0);
	balloon_get_info(&bed->b, &info);
	cr_assert(info.activated);
	cr_assert(info.deflate_on_oom);
	cr_assert(info.stats_enabled);
	cr_assert(info.free_page_reporting);
	cr_assert_not(info.page_poison); /* guest neither poisons nor zeroes */
	balloon_set_stats_interval(&bed->b, 0);
	cr_assert_eq(balloon_get_stats_interval(&bed->b), 0);
}

/* ---- inflate and deflate ---- */

Test(balloon, inflate_of_256_descending_pfns_is_one_range)
{
	up();
	uint32_t pfns[256];
	for (unsigned i = 0; i < 256; i++)
		pfns[i] = PFN(4 * MIB) + 255 - i;
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, pfns, 256);
	cr_assert_geq(head, 0);
	const uint64_t want[][2] = {{4 * MIB, 1 * MIB}};
	expect_ranges(want, 1);
	cr_assert_eq(bed->rd.submits, 1);
	struct balloon_metrics m = metrics();
	cr_assert_eq(m.inflated_pages, 256);
	cr_assert_eq(m.discard_ranges, 1);
	cr_assert_eq(m.discard_bytes, MIB);
	cr_assert_eq(m.invalid_pfns, 0);
}

Test(balloon, inflate_coalesces_runs_and_drops_duplicates)
{
	up();
	const uint32_t pfns[] = {0x500, 0x302, 0x301, 0x300, 0x500, 0x303,
				 0x700, 0x501, 0x302, 0x6ff};
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, pfns, 10);
	const uint64_t want[][2] = {{0x300000, 0x4000},
				    {0x500000, 0x2000},
				    {0x6ff000, 0x2000}};
	expect_ranges(want, 3);
	cr_assert_eq(metrics().inflated_pages, 8);
}

Test(balloon, pfns_outside_guest_ram_are_skipped_and_counted)
{
	struct balloon_config cfg = {0};
	struct fbd_layout l = {.ram_bytes = 16 * MIB,
			       .ram2_gpa = 64 * MIB, .ram2_bytes = 4 * MIB};
	up_with(&cfg, &l, &linux_opts);
	const uint32_t pfns[] = {
		PFN(16 * MIB),          /* just past region 0 */
		PFN(32 * MIB),          /* in the gap */
		PFN(64 * MIB) - 1,      /* last page of the gap */
		PFN(68 * MIB),          /* just past region 1 */
		0xffffffffu,            /* 16 TiB - 4 KiB */
		0x80000000u,
	};
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, pfns, 6);
	cr_assert_eq(bed->rd.nr, 0, "nothing may be discarded");
	/* Nothing to wait for: used at once. */
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
	struct balloon_metrics m = metrics();
	cr_assert_eq(m.invalid_pfns, 6);
	cr_assert_eq(m.inflated_pages, 0);
}

Test(balloon, ranges_never_span_two_regions)
{
	struct balloon_config cfg = {0};
	/* Region 1 starts exactly where region 0 ends. */
	struct fbd_layout l = {.ram_bytes = 16 * MIB,
			       .ram2_gpa = 16 * MIB, .ram2_bytes = 2 * MIB};
	up_with(&cfg, &l, &linux_opts);
	uint32_t pfns[8];
	for (unsigned i = 0; i < 8; i++)
		pfns[i] = PFN(16 * MIB) - 4 + i;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, pfns, 8);
	const uint64_t want[][2] = {{16 * MIB - 0x4000, 0x4000},
				    {16 * MIB, 0x4000}};
	expect_ranges(want, 2);
	cr_assert_eq(bed->rd.ranges[0].region == bed->rd.ranges[1].region,
		     false);
}

/* Random arrays against a bitmap model of guest RAM: the device must queue
 * exactly the maximal runs of valid pages, split at region ends. */
Test(balloon, random_pfn_arrays_match_a_reference_model)
{
	struct balloon_config cfg = {0};
	struct fbd_layout l = {.ram_bytes = 16 * MIB,
			       .ram2_gpa = 20 * MIB, .ram2_bytes = 4 * MIB};
	up_with(&cfg, &l, &linux_opts);
	bed->rd.auto_complete = true;
	const uint32_t space = PFN(26 * MIB);
	uint8_t *valid = calloc(space, 1);
	uint64_t (*want)[2] = calloc(space, sizeof(*want));
	srand(1234);
	for (unsigned round = 0; round < 50; round++) {
		uint32_t pfns[256];
		unsigned n = 1 + (unsigned)rand() % 256;
		unsigned invalid = 0;
		memset(valid, 0, space);
		for (unsigned i = 0; i < n; i++) {
			unsigned kind = (unsigned)rand() % 10;
			if (kind == 0)
				pfns[i] = (uint32_t)rand() | 0x80000000u;
			else if (kind < 3 && i > 0)
				pfns[i] = pfns[i - 1] + 1; /* runs */
			else if (kind < 4 && i > 0)
				pfns[i] = pfns[(unsigned)rand() % i]; /* dups */
			else
				pfns[i] = (uint32_t)rand() % space;
			uint64_t gpa = (uint64_t)pfns[i] << 12;
			bool ok = gpa < 16 * MIB ||
				  (gpa >= 20 * MIB && gpa < 24 * MIB);
			invalid += !ok;
			if (ok)
				valid[pfns[i]] = 1;
		}
		unsigned nwant = 0;
		for (uint32_t p = 0; p < space; p++) {
			if (!valid[p])
				continue;
			bool region_start = p == PFN(20 * MIB);
			if (nwant && !region_start &&
			    want[nwant - 1][0] + want[nwant - 1][1] ==
				    (uint64_t)p << 12)
				want[nwant - 1][1] += 4096;
			else {
				want[nwant][0] = (uint64_t)p << 12;
				want[nwant++][1] = 4096;
			}
		}
		uint64_t invalid_before = metrics().invalid_pfns;
		int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, pfns, n);
		cr_assert_geq(head, 0);
		expect_ranges((const uint64_t(*)[2])want, nwant);
		cr_assert_eq(metrics().invalid_pfns - invalid_before, invalid);
		cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
		recording_discard_clear_completed(&bed->rd);
	}
	free(valid);
	free(want);
}

Test(balloon, no_used_entry_before_every_discard_completed)
{
	up();
	const uint32_t a[] = {0x400, 0x402, 0x404}; /* three ranges */
	const uint32_t b[] = {0x600};
	int ha = fbd_send_pfns(drv, BALLOON_Q_INFLATE, a, 3);
	int hb = fbd_send_pfns(drv, BALLOON_Q_INFLATE, b, 1);
	cr_assert_eq(recording_discard_pending(&bed->rd), 4);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), -EAGAIN);

	/* The later request may finish first; the earlier one still waits. */
	void *cookies[4];
	cr_assert_eq(recording_discard_pending_cookies(&bed->rd, cookies, 4), 2);
	void *cookie_b = bed->rd.ranges[3].cookie;
	cr_assert(recording_discard_complete_cookie(&bed->rd, cookie_b, 0));
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), hb);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), -EAGAIN);
	cr_assert_eq(recording_discard_complete_all(&bed->rd, 0), 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), ha);
}

Test(balloon, failed_discard_still_completes_the_request)
{
	up();
	uint32_t pfn = 0x400;
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	recording_discard_complete_all(&bed->rd, -EIO);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
	cr_assert_eq(metrics().discard_errors, 1);

	bed->rd.queue_err = -EINVAL; /* the backend refuses the range */
	head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
	cr_assert_eq(metrics().discard_errors, 2);
}

Test(balloon, pfn_array_may_be_split_across_descriptors)
{
	up();
	uint32_t pfns[256];
	for (unsigned i = 0; i < 256; i++)
		pfns[i] = 0x800 + i * 2; /* 256 separate pages */
	uint64_t gpa = fbd_put_pfns(drv, pfns, 256);
	/* Split inside PFNs: 5 + 1000 + 19 bytes. */
	struct fvd_sg sg[3] = {{gpa, 5}, {gpa + 5, 1000}, {gpa + 1005, 19}};
	int head = fbd_send_raw(drv, BALLOON_Q_INFLATE, sg, 3);
	cr_assert_geq(head, 0);
	cr_assert_eq(bed->rd.nr, 256);
	cr_assert_eq(metrics().inflated_pages, 256);
}

Test(balloon, malformed_pfn_arrays_are_used_without_effect)
{
	struct balloon_config cfg = {0};
	struct fbd_layout l = {.ram_bytes = 32 * MIB};
	up_with(&cfg, &l, &linux_opts);
	uint32_t pfns[BALLOON_MAX_PFNS + 1];
	for (unsigned i = 0; i <= BALLOON_MAX_PFNS; i++)
		pfns[i] = 0x400 + i;
	/* Odd length: 255 PFNs and two stray bytes. */
	uint64_t gpa = fbd_put_pfns(drv, pfns, 256);
	struct fvd_sg odd = {gpa, 1022};
	int h1 = fbd_send_raw(drv, BALLOON_Q_INFLATE, &odd, 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), h1);
	/* Longer than any driver sends. */
	int h2 = fbd_send_pfns(drv, BALLOON_Q_INFLATE, pfns,
			       BALLOON_MAX_PFNS + 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), h2);
	/* A device-writable buffer carries no PFNs at all. */
	struct fvd_sg w = {gpa, 1024};
	int h3 = fvd_add(&bed->tb->drv, 0, &w, 0, 1);
	fvd_kick(&bed->tb->drv, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), h3);
	cr_assert_eq(bed->rd.nr, 0);
	struct balloon_metrics m = metrics();
	cr_assert_eq(m.malformed_requests, 2);
	cr_assert_eq(m.inflate_requests, 3);
	/* The largest legal array still works. */
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, pfns, BALLOON_MAX_PFNS);
	const uint64_t want[][2] = {{0x400000, BALLOON_MAX_PFNS * 4096ULL}};
	expect_ranges(want, 1);
}

Test(balloon, deflate_discards_nothing_and_is_used_at_once)
{
	up();
	const uint32_t pfns[] = {0x400, 0x401, 0x402, 0x9999999};
	int head = fbd_send_pfns(drv, BALLOON_Q_DEFLATE, pfns, 4);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL), head);
	cr_assert_eq(bed->rd.nr, 0);
	struct balloon_metrics m = metrics();
	cr_assert_eq(m.deflated_pages, 3);
	cr_assert_eq(m.invalid_pfns, 1);
	cr_assert_eq(m.deflate_requests, 1);
}

/* The spec forbids deflating pages before their inflate was used, but a
 * buggy guest must still never get a page back that a pending discard
 * could zero later: deflates wait for earlier inflates. */
Test(balloon, deflate_waits_for_inflates_still_discarding)
{
	up();
	uint32_t pfn = 0x400;
	int hi = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	int hd = fbd_send_pfns(drv, BALLOON_Q_DEFLATE, &pfn, 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL), -EAGAIN);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), hi);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL), hd);
	/* An inflate issued after the deflate does not hold it. */
	hd = fbd_send_pfns(drv, BALLOON_Q_DEFLATE, &pfn, 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL), hd);
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	/* A reset forgets a parked deflate like any request. */
	hd = fbd_send_pfns(drv, BALLOON_Q_DEFLATE, &pfn, 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL), -EAGAIN);
	fvd_reset(&bed->tb->drv);
	cr_assert_eq(metrics().orphaned_requests, 2);
}

/* Linux's update_balloon_size loop: inflate to the target, then back to 0. */
Test(balloon, linux_driver_reaches_target_and_deflates_back)
{
	up();
	bed->rd.auto_complete = true;
	fbd_set_pool(drv, PFN(FBD_HEAP_END), PFN(16 * MIB - FBD_HEAP_END));
	cr_assert_eq(balloon_set_target_mib(&bed->b, 10), 0);
	for (int i = 0; i < 100 && fbd_towards_target(drv) != 0; i++) {
		cr_assert_gt(fbd_fill(drv, (unsigned)fbd_towards_target(drv)), 0);
		cr_assert_eq(fbd_wait_ack(drv), 0);
	}
	struct balloon_info info;
	balloon_get_info(&bed->b, &info);
	cr_assert_eq(info.actual_pages, 10 * 256);
	cr_assert_eq(info.actual_mib, 10);
	cr_assert_eq(metrics().inflated_pages, 10 * 256);
	cr_assert_eq(metrics().discard_bytes, 10 * MIB);

	balloon_set_target_mib(&bed->b, 0);
	for (int i = 0; i < 100 && fbd_towards_target(drv) != 0; i++) {
		cr_assert_gt(fbd_leak(drv, (unsigned)-fbd_towards_target(drv)), 0);
		cr_assert_eq(fbd_wait_ack(drv), 0);
	}
	balloon_get_info(&bed->b, &info);
	cr_assert_eq(info.actual_pages, 0);
	cr_assert_eq(metrics().deflated_pages, 10 * 256);
}

/* ---- reset and hostile drivers ---- */

Test(balloon, reset_with_discards_in_flight_orphans_them)
{
	up();
	uint32_t pfn = 0x400;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(recording_discard_pending(&bed->rd), 1);
	fvd_reset(&bed->tb->drv);
	cr_assert_eq(metrics().orphaned_requests, 1);

	/* A new driver brings the device up with fresh rings. */
	fbd_destroy(drv);
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, &linux_opts), 0);
	cr_assert_eq(recording_discard_complete_all(&bed->rd, 0), 1);
	/* The old request's completion wrote nothing into the new ring. */
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), -EAGAIN);
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
}

/* The discard engine's thread of control: completes what is recorded after
 * a delay, as the main loop would while a vCPU thread resets the device. */
static void *complete_later(void *arg)
{
	struct fbd_bed *b = arg;
	usleep(100 * 1000);
	struct virtio_mmio *t = &b->tb->t;
	pthread_mutex_lock(&t->lock);
	recording_discard_complete_all(&b->rd, 0);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* A driver may reuse every page once its reset returns: the reset must not
 * return while a discard could still zero one of them. */
Test(balloon, reset_waits_for_discards_in_flight)
{
	up();
	uint32_t pfn = 0x400;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(recording_discard_pending(&bed->rd), 1);
	pthread_t th;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(pthread_create(&th, NULL, complete_later, bed), 0);
	fvd_reset(&bed->tb->drv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Checked before joining: the reset itself waited for the discard. */
	cr_assert_eq(recording_discard_pending(&bed->rd), 0);
	pthread_join(th, NULL);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_geq(ms, 90, "reset returned after %ld ms", ms);
	cr_assert_lt(ms, BALLOON_RESET_WAIT_MS, "reset hit its bound (%ld ms)", ms);
}

Test(balloon, second_activation_orphans_requests_in_flight)
{
	up();
	uint32_t pfn = 0x400;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	/* A transport that activates again without a reset. */
	struct virtio_dev *vd = balloon_virtio_dev(&bed->b);
	struct virtio_mmio *t = &bed->tb->t;
	pthread_mutex_lock(&t->lock);
	cr_assert_eq(vd->ops->activate(vd->dev, t->queues, t->nr_queues,
				       &bed->tb->mem, &t->host),
		     0);
	pthread_mutex_unlock(&t->lock);
	cr_assert_eq(metrics().orphaned_requests, 1);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), -EAGAIN);
}

/* A driver that queues far more than Linux does gets at most
 * BALLOON_CHAINS_PER_RUN chains per kick; the rest run from the loop. */
Test(balloon, work_per_kick_is_capped_and_resumed_later)
{
	up();
	struct fvd *d = &bed->tb->drv;
	uint32_t pfn = 0x400;
	uint64_t gpa = fbd_put_pfns(drv, &pfn, 1);
	struct fvd_sg sg = {gpa, 4};
	for (unsigned i = 0; i < 100; i++)
		cr_assert_geq(fvd_add(d, 1, &sg, 1, 0), 0);
	fvd_notify(d, 1);
	unsigned used = 0;
	while (fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL) >= 0)
		used++;
	cr_assert_eq(used, BALLOON_CHAINS_PER_RUN);
	uint64_t cnt;
	int fd = balloon_pending_fd(&bed->b);
	cr_assert_eq(read(fd, &cnt, sizeof(cnt)), sizeof(cnt));
	for (int runs = 0; runs < 10 && used < 100; runs++) {
		balloon_run_pending(&bed->b);
		while (fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL) >= 0)
			used++;
	}
	cr_assert_eq(used, 100);
	cr_assert_gt(metrics().deferred_runs, 0);
}

Test(balloon, requests_waiting_for_discards_are_bounded)
{
	up();
	struct fvd *d = &bed->tb->drv;
	uint64_t gpa[100];
	for (unsigned i = 0; i < 100; i++) {
		uint32_t pfn = 0x400 + i;
		gpa[i] = fbd_put_pfns(drv, &pfn, 1);
	}
	unsigned sent = 0, used = 0;
	for (unsigned i = 0; i < 100; i++) {
		struct fvd_sg sg = {gpa[i], 4};
		cr_assert_geq(fvd_add(d, 0, &sg, 1, 0), 0);
		fvd_notify(d, 0);
		sent++;
	}
	cr_assert_eq(bed->b.inflight, BALLOON_MAX_INFLIGHT);
	cr_assert_eq(recording_discard_pending(&bed->rd), BALLOON_MAX_INFLIGHT);
	for (int rounds = 0; rounds < 10 && used < sent; rounds++) {
		recording_discard_complete_all(&bed->rd, 0);
		while (fbd_get_used(drv, BALLOON_Q_INFLATE, NULL) >= 0)
			used++;
		balloon_run_pending(&bed->b);
	}
	cr_assert_eq(used, 100);
	cr_assert_eq(metrics().inflated_pages, 100);
}

Test(balloon, malformed_ring_asks_for_reset_and_discards_nothing)
{
	up();
	struct fvd *d = &bed->tb->drv;
	/* A descriptor pointing outside guest RAM. */
	fvd_set_desc(d, 0, 0, 0x7f0000000000ULL, 1024, 0, 0);
	fvd_publish_head(d, 0, 0);
	fvd_notify(d, 0);
	cr_assert(fvd_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(bed->rd.nr, 0);
	/* After a reset the device works again. */
	fbd_destroy(drv);
	cr_assert_eq(fbd_probe(drv, d, &linux_opts), 0);
	uint32_t pfn = 0x400;
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
}

Test(balloon, works_without_a_discard_backend)
{
	struct balloon_config cfg = {0};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	bed->b.discard.ops = NULL; /* as balloon_init(b, cfg, NULL) leaves it */
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, &linux_opts), 0);
	drv = &bed->drv;
	uint32_t pfn = 0x400;
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
	cr_assert_eq(metrics().inflated_pages, 1);
}

/* Seed 002: while something inhibits discarding, requests are acknowledged
 * and nothing is discarded; requests already queued still finish; the
 * discard resumes only when the last reason is gone. */
Test(balloon, inhibited_discard_acknowledges_without_discarding)
{
	up();
	uint32_t pfn = 0x400;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(balloon_inhibit_add(&bed->b, "snapshot"), 0);
	cr_assert_eq(balloon_inhibit_add(&bed->b, "operator"), 0);
	cr_assert_eq(balloon_discards_in_flight(&bed->b), 1);
	pfn = 0x500;
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
	cr_assert_eq(bed->rd.nr, 1, "only the request queued before");
	cr_assert_eq(metrics().inhibited_bytes, 4096);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(balloon_discards_in_flight(&bed->b), 0);

	cr_assert_eq(balloon_inhibit_remove(&bed->b, "operator"), 0);
	cr_assert_eq(balloon_inhibit_remove(&bed->b, "operator"), -ENOENT);
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(bed->rd.nr, 1, "still one reason left");
	cr_assert_eq(balloon_inhibit_remove(&bed->b, "snapshot"), 0);
	cr_assert_eq(bed->rd.nr, 1, "nothing acknowledged earlier is replayed");
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(bed->rd.nr, 2);
}
