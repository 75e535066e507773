/* virtio-balloon: features, queue numbering, MUST_TELL_HOST and config space,
 * driven by a simulated Linux driver through virtio-mmio. */
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

TestSuite(balloon, .fini = balloon_fixture_teardown);

/* ---- features and queue numbering ---- */

Test(balloon, offers_must_tell_host_and_stats_only_by_default)
{
	struct balloon_config cfg = {0};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	uint64_t offer = fake_driver_device_features(&bed->tb->drv);
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
	uint64_t offer = fake_driver_device_features(&bed->tb->drv);
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
			struct fake_driver_sg r = {8 * MIB, 2 * MIB};
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
	cr_assert(fake_driver_status(&bed->tb->drv) &
		  VIRTIO_CONFIG_S_DRIVER_OK);
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
	cr_assert_not(fake_driver_status(&bed->tb->drv) &
		      VIRTIO_CONFIG_S_FEATURES_OK);
	/* The same device takes a driver that tells the host. */
	fbd_destroy(&bed->drv);
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, &linux_opts), 0);
	cr_assert(fake_driver_status(&bed->tb->drv) &
		  VIRTIO_CONFIG_S_DRIVER_OK);
}

/* ---- config space ---- */

Test(balloon, target_sets_num_pages_and_raises_config_interrupt)
{
	struct balloon_config cfg = {.amount_mib = 3};
	up_with(&cfg, NULL, &linux_opts);
	cr_assert_eq(fbd_num_pages(drv), 3 * 256);
	fake_driver_ack_irq(&bed->tb->drv);
	cr_assert_eq(balloon_set_target_mib(&bed->b, 64), 0);
	cr_assert_eq(fbd_num_pages(drv), 64 * 256);
	cr_assert(fake_driver_ack_irq(&bed->tb->drv) & VIRTIO_MMIO_INT_CONFIG);
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
	fake_driver_config_write(&bed->tb->drv, 4, &byte, 1);
	cr_assert_eq(fbd_actual(drv), 0x1234569a);
	uint32_t bogus = htole32(7);
	fake_driver_config_write(&bed->tb->drv, 0, &bogus, 4);
	cr_assert_eq(fbd_num_pages(drv), 256);
	fake_driver_config_write(&bed->tb->drv, 8, &bogus, 4);
	uint32_t cmd;
	fake_driver_config_read(&bed->tb->drv, 8, &cmd, 4);
	cr_assert_eq(cmd, 0);
	struct balloon_info info;
	balloon_get_info(&bed->b, &info);
	cr_assert_eq(info.actual_pages, 0x1234569a);
	cr_assert_eq(info.actual_mib, 0x1234569a / 256);
	cr_assert(info.page_poison);
	cr_assert_eq(info.poison_val, 0xaaaaaaaa);
	/* An 8-byte read spanning two fields. */
	uint64_t both;
	fake_driver_config_read(&bed->tb->drv, 0, &both, 8);
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
