/* virtio-balloon snapshot state. The simulated Linux driver sets up a
 * balloon with stats, hinting and reporting and works it; the device and
 * its transport are saved; a second balloon and transport ("the new
 * process") are built over the same guest memory, restored, and the driver,
 * unchanged, is moved over to them and carries on. Corrupted or mismatched
 * images are refused with a message and change nothing. */
#include "fakes/balloon_fixture.h"

#include <core/log.h>

#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK FBD_HINT_BLOCK_BYTES
#define POOL_PAGES 1024u

/* The restored side. */
struct side {
	struct balloon b;
	struct recording_discard rd;
	struct virtio_mmio t;
	struct bus bus;
	unsigned irqs;
};
static struct side *nw;
static struct balloon_state bst;
static struct virtio_mmio_state mst;
static char err[256];
static const uint64_t blocks[] = {4 * MIB, 8 * MIB, 12 * MIB};

static const struct balloon_config full_cfg = {
	.amount_mib = 0,
	.stats_polling_interval_s = 5,
	.free_page_reporting = true,
	.free_page_hinting = true,
	.deflate_on_oom = true,
};
/* Linux with init_on_free: PAGE_POISON (poison 0) keeps REPORTING on. */
static const struct fbd_opts full_opts = {.features = FBD_LINUX_FEATURES,
					  .init_on_free = true};

static int count_irq(void *opaque)
{
	((struct side *)opaque)->irqs++;
	return 0;
}

static void teardown(void)
{
	if (nw) {
		recording_discard_complete_all(&nw->rd, 0);
		virtio_mmio_destroy(&nw->t);
		balloon_destroy(&nw->b);
		recording_discard_destroy(&nw->rd);
		free(nw);
		nw = NULL;
	}
	balloon_fixture_teardown();
}

static void setup(void) { log_set_level(LOG_ERROR); }

TestSuite(balloon_state, .init = setup, .fini = teardown);

/* A fresh balloon and transport over the old side's guest memory. */
static void new_side(const struct balloon_config *cfg)
{
	nw = calloc(1, sizeof(*nw));
	cr_assert(nw);
	recording_discard_init(&nw->rd, balloon_discard_done);
	cr_assert_eq(balloon_init(&nw->b, cfg, &nw->rd.iface), 0);
	cr_assert_eq(virtio_mmio_init(&nw->t, balloon_virtio_dev(&nw->b),
				      &bed->tb->mem,
				      (struct irq_trigger){count_irq, nw}),
		     0);
	bus_init(&nw->bus);
	cr_assert_eq(bus_insert(&nw->bus, VIRTIO_TESTBED_MMIO_BASE,
				VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, &nw->t),
		     0);
}

/* Old side: probed, 256 pages inflated and acknowledged. */
static void work_old_side(const struct balloon_config *cfg)
{
	up_with(cfg, NULL, &full_opts);
	fbd_set_pool(drv, PFN(FBD_HEAP_END), POOL_PAGES);
	cr_assert_eq(balloon_set_target_mib(&bed->b, 1), 0);
	cr_assert_eq(fbd_fill(drv, 256), 256);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_wait_ack(drv), 0);
	cr_assert_eq(fbd_actual(drv), 256);
}

static void save_old(void)
{
	memset(&bst, 0xa5, sizeof(bst));
	memset(&mst, 0xa5, sizeof(mst));
	cr_assert_eq(balloon_save(&bed->b, &bst), 0);
	cr_assert_eq(virtio_mmio_save(&bed->tb->t, &mst), 0);
}

/* The documented order; the driver then reaches the new device. */
static void restore_new(const struct balloon_config *cfg)
{
	new_side(cfg);
	cr_assert_eq(balloon_state_check(&nw->b, &bst, err, sizeof(err)), 0,
		     "%s", err);
	int r = virtio_mmio_restore(&nw->t, &mst, err, sizeof(err));
	cr_assert_eq(r, 0, "transport: %d %s", r, err);
	r = balloon_restore(&nw->b, &bst, err, sizeof(err));
	cr_assert_eq(r, 0, "balloon: %d %s", r, err);
	bed->tb->drv.bus = &nw->bus;
}

/* What the VMM's main loop does once running. */
static void main_loop_runs(void)
{
	virtio_mmio_restored(&nw->t);
	balloon_run_pending(&nw->b);
}

static struct balloon_metrics new_metrics(void)
{
	struct balloon_metrics m;
	balloon_get_metrics(&nw->b, &m);
	return m;
}

static struct balloon_hint_status new_hint(void)
{
	struct balloon_hint_status st;
	cr_assert_eq(balloon_hint_status(&nw->b, &st), 0);
	return st;
}

Test(balloon_state, restored_device_reads_the_same_and_saves_the_same)
{
	work_old_side(&full_cfg);
	balloon_set_stats_interval(&bed->b, 7);
	save_old();
	restore_new(&full_cfg);
	cr_assert_eq(fbd_num_pages(drv), 256);
	cr_assert_eq(fbd_actual(drv), 256);
	cr_assert_eq(fbd_hint_cmd_id(drv), VIRTIO_BALLOON_CMD_ID_STOP);
	cr_assert_eq(balloon_get_stats_interval(&nw->b), 7);
	struct balloon_info old_info, new_info;
	balloon_get_info(&bed->b, &old_info);
	balloon_get_info(&nw->b, &new_info);
	cr_assert_eq(memcmp(&old_info, &new_info, sizeof(old_info)), 0);

	struct balloon_state again;
	struct virtio_mmio_state magain;
	cr_assert_eq(balloon_save(&nw->b, &again), 0);
	cr_assert_eq(memcmp(&bst, &again, sizeof(bst)), 0);
	cr_assert_eq(virtio_mmio_save(&nw->t, &magain), 0);
	cr_assert_eq(memcmp(&mst, &magain, sizeof(mst)), 0);
	cr_assert_eq(new_metrics().inflate_requests, 0, "metrics from zero");
}

Test(balloon_state, inflate_and_deflate_continue_on_the_new_device)
{
	work_old_side(&full_cfg);
	save_old();
	restore_new(&full_cfg);
	main_loop_runs();
	unsigned old_ranges = bed->rd.nr;

	cr_assert_eq(balloon_set_target_mib(&nw->b, 2), 0);
	cr_assert(fake_driver_ack_irq(&bed->tb->drv) & VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(fbd_towards_target(drv), 256);
	cr_assert_eq(fbd_fill(drv, 256), 256);
	cr_assert_gt(nw->rd.nr, 0, "the new device discards");
	cr_assert_eq(bed->rd.nr, old_ranges, "the old one sees nothing");
	cr_assert_eq(fbd_wait_ack(drv), -EAGAIN, "used only after discards");
	recording_discard_complete_all(&nw->rd, 0);
	cr_assert_eq(fbd_wait_ack(drv), 0);
	struct balloon_info info;
	balloon_get_info(&nw->b, &info);
	cr_assert_eq(info.actual_pages, 512);
	cr_assert_eq(new_metrics().inflated_pages, 256);

	cr_assert_eq(balloon_set_target_mib(&nw->b, 0), 0);
	cr_assert_eq(fbd_leak(drv, 256), 256);
	cr_assert_eq(fbd_wait_ack(drv), 0);
	cr_assert_eq(fbd_leak(drv, 256), 256);
	cr_assert_eq(fbd_wait_ack(drv), 0);
	balloon_get_info(&nw->b, &info);
	cr_assert_eq(info.actual_pages, 0);
	cr_assert_eq(new_metrics().deflated_pages, 512);
}

Test(balloon_state, held_stats_buffer_is_returned_by_the_next_tick)
{
	work_old_side(&full_cfg);
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
	fbd_set_stat(drv, VIRTIO_BALLOON_S_MEMFREE, 4242);
	cr_assert_eq(fbd_stats_request(drv), 0);
	save_old();
	cr_assert(bst.stats_held);
	restore_new(&full_cfg);
	main_loop_runs();

	struct balloon_stats s;
	cr_assert_eq(balloon_get_stats(&nw->b, &s), 0, "last values kept");
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 4242);
	cr_assert_eq(s.present, 0xffff);
	cr_assert_eq(fbd_stats_request(drv), -EAGAIN, "still held");
	cr_assert_eq(balloon_stats_tick(&nw->b), 0);
	fbd_set_stat(drv, VIRTIO_BALLOON_S_MEMFREE, 777);
	cr_assert_eq(fbd_stats_request(drv), 0, "the guest got it back");
	cr_assert_eq(balloon_get_stats(&nw->b, &s), 0);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 777);
	cr_assert_eq(balloon_stats_tick(&nw->b), 0, "and it keeps flowing");
}

/* Adds a filled stats buffer without a kick: one the old device never saw. */
static int post_stats_unkicked(uint64_t memfree)
{
	uint8_t buf[10];
	uint16_t tag = htole16(VIRTIO_BALLOON_S_MEMFREE);
	uint64_t val = htole64(memfree);
	memcpy(buf, &tag, 2);
	memcpy(buf + 2, &val, 8);
	uint64_t gpa = fake_driver_alloc(&bed->tb->drv, sizeof(buf), 8);
	memcpy(fake_driver_ptr(&bed->tb->drv, gpa, sizeof(buf)), buf,
	       sizeof(buf));
	struct fake_driver_sg sg = {gpa, sizeof(buf)};
	return fake_driver_add(&bed->tb->drv, (unsigned)drv->q[BALLOON_Q_STATS],
			       &sg, 1, 0);
}

Test(balloon_state, stats_buffer_posted_before_the_snapshot_is_taken_up)
{
	work_old_side(&full_cfg);
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
	uint32_t len;
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_STATS, &len), drv->stats_head);
	int head = post_stats_unkicked(31337);
	cr_assert_geq(head, 0);
	save_old();
	cr_assert_not(bst.stats_held);
	restore_new(&full_cfg);
	struct balloon_stats s;
	cr_assert_eq(balloon_get_stats(&nw->b, &s), 0);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 31337);
	cr_assert_eq(balloon_stats_tick(&nw->b), 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_STATS, &len), head);
}

Test(balloon_state, a_second_stats_buffer_gives_the_held_one_back)
{
	work_old_side(&full_cfg);
	int held = drv->stats_head;
	int head = post_stats_unkicked(5); /* against the spec, as a guest may */
	cr_assert_geq(head, 0);
	save_old();
	cr_assert(bst.stats_held);
	restore_new(&full_cfg);
	uint32_t len;
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_STATS, &len), held,
		     "as the old device would on that kick");
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_STATS, &len), -EAGAIN);
	cr_assert_eq(balloon_stats_tick(&nw->b), 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_STATS, &len), head);
}

Test(balloon_state, hint_run_in_progress_continues_with_the_same_ids)
{
	work_old_side(&full_cfg);
	uint32_t id;
	cr_assert_eq(balloon_hint_start(&bed->b, false, &id), 0);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_eq(fbd_hint_blocks(drv, blocks, 1), 1);
	save_old();
	cr_assert_eq(bst.hint_state, BALLOON_HINT_RUNNING);
	restore_new(&full_cfg);
	cr_assert_eq(nw->irqs, 1, "the unacknowledged config interrupt again");
	main_loop_runs();

	struct balloon_hint_status st = new_hint();
	cr_assert(st.negotiated);
	cr_assert_eq(st.state, BALLOON_HINT_RUNNING);
	cr_assert_eq(st.run_id, id);
	cr_assert_eq(st.host_cmd, id);
	cr_assert(st.guest_cmd_valid);
	cr_assert_eq(st.guest_cmd, id);
	cr_assert_eq(fbd_hint_cmd_id(drv), id);
	cr_assert_eq(fbd_hint_config_changed(drv), 0, "same run: no new id");

	cr_assert_eq(fbd_hint_blocks(drv, blocks + 1, 2), 2);
	st = new_hint();
	cr_assert_eq(st.ranges, 2);
	cr_assert_eq(balloon_hint_page(&nw->b, id, blocks[1]), 1);
	cr_assert_eq(balloon_hint_page(&nw->b, id, blocks[2] + BLOCK - 4096), 1);
	cr_assert_eq(balloon_hint_page(&nw->b, id, blocks[0]), 0,
		     "hints from before the snapshot are not kept");
	cr_assert_geq(fbd_hint_stop(drv), 0);
	st = new_hint();
	cr_assert_eq(st.state, BALLOON_HINT_STOPPED);
	cr_assert(st.guest_stopped);
	cr_assert_eq(balloon_hint_done(&nw->b), 0);
	cr_assert_eq(fbd_hint_config_changed(drv), 0);
	cr_assert_eq(drv->hint_released, 3, "the guest takes every block back");
	uint32_t next;
	cr_assert_eq(balloon_hint_start(&nw->b, true, &next), 0);
	cr_assert_eq(next, id + 1, "ids stay unique across the restore");
}

Test(balloon_state, reporting_continues_on_the_new_device)
{
	work_old_side(&full_cfg);
	save_old();
	restore_new(&full_cfg);
	main_loop_runs();
	struct fake_driver_sg r = {8 * MIB, 4 * MIB};
	int head = fbd_report(drv, &r, 1);
	cr_assert_geq(head, 0);
	cr_assert_eq(nw->rd.nr, 1);
	cr_assert_eq(nw->rd.ranges[0].gpa, 8 * MIB);
	cr_assert_eq(nw->rd.ranges[0].len, 4 * MIB);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL), -EAGAIN);
	recording_discard_complete_all(&nw->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_REPORTING, NULL), head);
}

Test(balloon_state, inflate_posted_before_the_snapshot_is_not_lost)
{
	work_old_side(&full_cfg);
	uint32_t pfns[] = {PFN(10 * MIB), PFN(10 * MIB) + 1};
	uint64_t gpa = fbd_put_pfns(drv, pfns, 2);
	struct fake_driver_sg sg = {gpa, sizeof(pfns)};
	int head = fake_driver_add(&bed->tb->drv,
				   (unsigned)drv->q[BALLOON_Q_INFLATE], &sg, 1,
				   0); /* its kick never got handled */
	cr_assert_geq(head, 0);
	save_old();
	restore_new(&full_cfg);
	cr_assert_eq(nw->rd.nr, 0, "restore itself discards nothing");
	main_loop_runs();
	cr_assert_eq(nw->rd.nr, 1);
	cr_assert_eq(nw->rd.ranges[0].gpa, 10 * MIB);
	cr_assert_eq(nw->rd.ranges[0].len, 2 * 4096);
	recording_discard_complete_all(&nw->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
}

Test(balloon_state, broken_device_stays_broken_until_the_driver_resets)
{
	work_old_side(&full_cfg);
	/* avail idx far ahead of the ring: malformed, NEEDS_RESET. */
	fake_driver_set_avail_idx(&bed->tb->drv,
				  (unsigned)drv->q[BALLOON_Q_INFLATE], 1000);
	fake_driver_notify(&bed->tb->drv, (unsigned)drv->q[BALLOON_Q_INFLATE]);
	cr_assert(fake_driver_status(&bed->tb->drv) &
		  VIRTIO_CONFIG_S_NEEDS_RESET);
	save_old();
	cr_assert(bst.broken);
	restore_new(&full_cfg);
	main_loop_runs();
	cr_assert(fake_driver_status(&bed->tb->drv) &
		  VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(balloon_stats_tick(&nw->b), -ENODEV);
	cr_assert_eq(nw->rd.nr, 0);
	fbd_destroy(drv);
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, &full_opts), 0);
	struct balloon_info info;
	balloon_get_info(&nw->b, &info);
	cr_assert(info.activated);
	cr_assert_eq(balloon_stats_tick(&nw->b), 0);
}

Test(balloon_state, save_is_busy_while_a_request_is_in_flight)
{
	work_old_side(&full_cfg);
	cr_assert_eq(balloon_set_target_mib(&bed->b, 2), 0);
	cr_assert_eq(fbd_fill(drv, 256), 256);
	struct balloon_state st;
	cr_assert_eq(balloon_save(&bed->b, &st), -EBUSY);
	/* A deflate parked behind that inflate keeps it busy too. */
	uint32_t pfn = drv->balloon[0];
	cr_assert_geq(fbd_send_pfns(drv, BALLOON_Q_DEFLATE, &pfn, 1), 0);
	cr_assert_eq(balloon_discards_in_flight(&bed->b), 2);
	cr_assert_eq(balloon_save(&bed->b, &st), -EBUSY);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(balloon_discards_in_flight(&bed->b), 0);
	cr_assert_eq(balloon_save(&bed->b, &st), 0);
}

/* ---- refusals: -EINVAL, a message, nothing changed ---- */

static void snapshot_new(struct balloon_state *b, struct virtio_mmio_state *m)
{
	cr_assert_eq(balloon_save(&nw->b, b), 0);
	cr_assert_eq(virtio_mmio_save(&nw->t, m), 0);
}

static void expect_unchanged(const struct balloon_state *b,
			     const struct virtio_mmio_state *m)
{
	struct balloon_state b2;
	struct virtio_mmio_state m2;
	snapshot_new(&b2, &m2);
	cr_assert_eq(memcmp(b, &b2, sizeof(b2)), 0, "balloon changed");
	cr_assert_eq(memcmp(m, &m2, sizeof(m2)), 0, "transport changed");
}

/* The balloon restore refuses st after a good transport restore. */
static void expect_balloon_refused(const struct balloon_state *st,
				   const char *word)
{
	struct balloon_state b;
	struct virtio_mmio_state m;
	snapshot_new(&b, &m);
	err[0] = 0;
	cr_assert_eq(balloon_restore(&nw->b, st, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, word), "message \"%s\" lacks \"%s\"", err, word);
	cr_assert_eq(strncmp(err, "balloon: ", 9), 0, "%s", err);
	cr_assert_null(strstr(err + 1, "balloon: "), "%s", err);
	expect_unchanged(&b, &m);
}

static void transport_restored(const struct balloon_config *cfg)
{
	new_side(cfg);
	int r = virtio_mmio_restore(&nw->t, &mst, err, sizeof(err));
	cr_assert_eq(r, 0, "%s", err);
}

static void saved_with_run(void)
{
	work_old_side(&full_cfg);
	uint32_t id;
	cr_assert_eq(balloon_hint_start(&bed->b, true, &id), 0);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	save_old();
}

Test(balloon_state, refuses_config_mismatch_naming_the_field)
{
	saved_with_run();
	struct balloon_config cfg = full_cfg;
	cfg.amount_mib = 64;
	transport_restored(&cfg);
	expect_balloon_refused(&bst, "amount_mib");
}

Test(balloon_state, refuses_stats_interval_mismatch)
{
	saved_with_run();
	struct balloon_config cfg = full_cfg;
	cfg.stats_polling_interval_s = 1;
	transport_restored(&cfg);
	expect_balloon_refused(&bst, "stats_polling_interval_s");
}

Test(balloon_state, refuses_a_balloon_configured_without_a_negotiated_feature)
{
	saved_with_run();
	struct balloon_config cfg = full_cfg;
	cfg.free_page_reporting = false;
	new_side(&cfg);
	struct balloon_state b;
	struct virtio_mmio_state m;
	snapshot_new(&b, &m);
	/* Checked first, the balloon names the feature... */
	cr_assert_eq(balloon_state_check(&nw->b, &bst, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "free_page_reporting"), "%s", err);
	/* ... and the transport alone refuses it too, by bit. */
	cr_assert_eq(virtio_mmio_restore(&nw->t, &mst, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "bit 4") || strstr(err, "bit 5"), "%s", err);
	expect_unchanged(&b, &m);
}

Test(balloon_state, refuses_offered_feature_mismatch_by_name)
{
	saved_with_run();
	new_side(&full_cfg);
	struct balloon_state st = bst;
	st.offered_features &= ~FBD_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	cr_assert_eq(balloon_state_check(&nw->b, &st, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "VIRTIO_BALLOON_F_DEFLATE_ON_OOM"), "%s", err);
}

Test(balloon_state, refuses_a_restore_before_its_transport)
{
	saved_with_run();
	new_side(&full_cfg);
	expect_balloon_refused(&bst, "restore the transport first");
}

Test(balloon_state, refuses_features_other_than_the_transport_negotiated)
{
	saved_with_run();
	transport_restored(&full_cfg);
	struct balloon_state st = bst;
	st.features &= ~FBD_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	expect_balloon_refused(&st, "negotiated features");
}

Test(balloon_state, refuses_an_unknown_hint_state)
{
	saved_with_run();
	transport_restored(&full_cfg);
	struct balloon_state st = bst;
	st.hint_state = 9;
	expect_balloon_refused(&st, "hint state 9");
}

Test(balloon_state, refuses_a_cmd_id_that_is_not_the_run)
{
	saved_with_run();
	transport_restored(&full_cfg);
	struct balloon_state st = bst;
	st.free_page_hint_cmd_id = st.hint_run_id + 5;
	expect_balloon_refused(&st, "free_page_hint_cmd_id");
}

Test(balloon_state, refuses_a_run_id_never_handed_out)
{
	saved_with_run();
	transport_restored(&full_cfg);
	struct balloon_state st = bst;
	st.hint_run_id = st.hint_last_id + 1;
	st.free_page_hint_cmd_id = st.hint_run_id;
	expect_balloon_refused(&st, "run_id");
}

Test(balloon_state, refuses_a_stats_head_outside_the_queue)
{
	saved_with_run();
	transport_restored(&full_cfg);
	struct balloon_state st = bst;
	st.stats_head = BALLOON_QUEUE_SIZE;
	expect_balloon_refused(&st, "stats head");
}

Test(balloon_state, refuses_buffers_in_flight_it_does_not_account_for)
{
	saved_with_run();
	transport_restored(&full_cfg);
	struct balloon_state st = bst;
	st.stats_held = 0; /* yet the stats queue has one in flight */
	st.stats_head = 0;
	expect_balloon_refused(&st, "in flight");
}

Test(balloon_state, refuses_a_target_that_is_not_whole_mib)
{
	saved_with_run();
	transport_restored(&full_cfg);
	struct balloon_state st = bst;
	st.num_pages = 300;
	expect_balloon_refused(&st, "num_pages");
}

Test(balloon_state, refuses_flags_and_padding)
{
	saved_with_run();
	transport_restored(&full_cfg);
	struct balloon_state st = bst;
	st.broken = 2;
	expect_balloon_refused(&st, "flag");
	st = bst;
	st.cfg.pad[2] = 1;
	expect_balloon_refused(&st, "padding");
	st = bst;
	st.stats_present = 1u << BALLOON_STATS_NR;
	expect_balloon_refused(&st, "stats tags");
}

Test(balloon_state, refuses_hint_state_on_a_device_without_hinting)
{
	struct balloon_config cfg = full_cfg;
	cfg.free_page_hinting = false;
	work_old_side(&cfg);
	save_old();
	transport_restored(&cfg);
	struct balloon_state st = bst;
	st.hint_run_id = st.hint_last_id = 2;
	st.hint_state = BALLOON_HINT_RUNNING;
	expect_balloon_refused(&st, "FREE_PAGE_HINT");
}

/* A file's last-update time is any 64-bit value: the age saturates instead
 * of overflowing (UBSan catches the overflow in the ASan build). */
Test(balloon_state, stats_update_time_at_the_limits_restores)
{
	const int64_t secs[] = {INT64_MIN, INT64_MAX, -1};
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		work_old_side(&full_cfg);
		cr_assert_eq(balloon_stats_tick(&bed->b), 0);
		cr_assert_eq(fbd_stats_request(drv), 0);
		save_old();
		cr_assert(bst.stats_valid);
		bst.stats_update_sec = secs[i];
		restore_new(&full_cfg);
		struct balloon_stats s;
		cr_assert_eq(balloon_get_stats(&nw->b, &s), 0);
		cr_assert_eq(s.last_update_realtime.tv_sec, secs[i]);
		teardown();
	}
}
