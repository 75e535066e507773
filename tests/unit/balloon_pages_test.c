/* virtio-balloon inflate/deflate: PFN validation, ranges, request ordering
 * against a recording discard backend. */
#include "fakes/balloon_fixture.h"

#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

TestSuite(balloon_pages, .fini = balloon_fixture_teardown);

/* ---- inflate and deflate ---- */

Test(balloon_pages, inflate_of_256_descending_pfns_is_one_range)
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

Test(balloon_pages, inflate_coalesces_runs_and_drops_duplicates)
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

Test(balloon_pages, pfns_outside_guest_ram_are_skipped_and_counted)
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

Test(balloon_pages, ranges_never_span_two_regions)
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
Test(balloon_pages, random_pfn_arrays_match_a_reference_model)
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

Test(balloon_pages, no_used_entry_before_every_discard_completed)
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

Test(balloon_pages, failed_discard_still_completes_the_request)
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

Test(balloon_pages, pfn_array_may_be_split_across_descriptors)
{
	up();
	uint32_t pfns[256];
	for (unsigned i = 0; i < 256; i++)
		pfns[i] = 0x800 + i * 2; /* 256 separate pages */
	uint64_t gpa = fbd_put_pfns(drv, pfns, 256);
	/* Split inside PFNs: 5 + 1000 + 19 bytes. */
	struct fake_driver_sg sg[3] = {
		{gpa, 5}, {gpa + 5, 1000}, {gpa + 1005, 19}};
	int head = fbd_send_raw(drv, BALLOON_Q_INFLATE, sg, 3);
	cr_assert_geq(head, 0);
	cr_assert_eq(bed->rd.nr, 256);
	cr_assert_eq(metrics().inflated_pages, 256);
}

Test(balloon_pages, malformed_pfn_arrays_are_used_without_effect)
{
	struct balloon_config cfg = {0};
	struct fbd_layout l = {.ram_bytes = 32 * MIB};
	up_with(&cfg, &l, &linux_opts);
	uint32_t pfns[BALLOON_MAX_PFNS + 1];
	for (unsigned i = 0; i <= BALLOON_MAX_PFNS; i++)
		pfns[i] = 0x400 + i;
	/* Odd length: 255 PFNs and two stray bytes. */
	uint64_t gpa = fbd_put_pfns(drv, pfns, 256);
	struct fake_driver_sg odd = {gpa, 1022};
	int h1 = fbd_send_raw(drv, BALLOON_Q_INFLATE, &odd, 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), h1);
	/* Longer than any driver sends. */
	int h2 = fbd_send_pfns(drv, BALLOON_Q_INFLATE, pfns,
			       BALLOON_MAX_PFNS + 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), h2);
	/* A device-writable buffer carries no PFNs at all. */
	struct fake_driver_sg w = {gpa, 1024};
	int h3 = fake_driver_add(&bed->tb->drv, 0, &w, 0, 1);
	fake_driver_kick(&bed->tb->drv, 0);
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

Test(balloon_pages, deflate_discards_nothing_and_is_used_at_once)
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
Test(balloon_pages, deflate_waits_for_inflates_still_discarding)
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
	reset_completing_discards();
	cr_assert_eq(metrics().orphaned_requests, 2);
}

/* Linux's update_balloon_size loop: inflate to the target, then back to 0. */
Test(balloon_pages, linux_driver_reaches_target_and_deflates_back)
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
