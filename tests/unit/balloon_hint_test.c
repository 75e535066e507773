/* virtio-balloon free page hinting: the cmd_id state machine driven by a
 * simulated Linux driver (report_free_page_func's steps: the id as a 4-byte
 * output buffer, 4 MiB free blocks as input buffers, STOP) and by a hostile
 * one (stale ids, buffers outside a run, bad ranges). */
#include "fakes/fake_balloon_driver.h"

#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define F(b) FBD_BIT(b)
#define MIB (1ULL << 20)
#define BLOCK FBD_HINT_BLOCK_BYTES
#define STOP VIRTIO_BALLOON_CMD_ID_STOP
#define DONE VIRTIO_BALLOON_CMD_ID_DONE

static struct fbd_bed *bed;
static struct fbd *drv;

static void teardown(void)
{
	fbd_bed_free(bed);
	bed = NULL;
}

TestSuite(balloon_hint, .fini = teardown);

static void up_cfg(const struct balloon_config *cfg,
		   const struct fbd_layout *l, uint64_t features)
{
	bed = fbd_bed_new(cfg, l);
	cr_assert(bed);
	drv = &bed->drv;
	const struct fbd_opts o = {.features = features};
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, &o), 0);
}

static void up(void)
{
	struct balloon_config cfg = {.free_page_hinting = true};
	up_cfg(&cfg, NULL, FBD_LINUX_FEATURES);
	cr_assert_geq(drv->q[BALLOON_Q_FREE_PAGE], 0);
}

static struct balloon_metrics metrics(void)
{
	struct balloon_metrics m;
	balloon_get_metrics(&bed->b, &m);
	return m;
}

static struct balloon_hint_status status(void)
{
	struct balloon_hint_status st;
	cr_assert_eq(balloon_hint_status(&bed->b, &st), 0);
	return st;
}

static bool config_irq(void)
{
	return fake_driver_ack_irq(&bed->tb->drv) & VIRTIO_MMIO_INT_CONFIG;
}

static uint32_t start(bool ack)
{
	uint32_t id = 0;
	fake_driver_ack_irq(&bed->tb->drv);
	cr_assert_eq(balloon_hint_start(&bed->b, ack, &id), 0);
	cr_assert_geq(id, 2);
	cr_assert(config_irq(), "start raises a config interrupt");
	cr_assert_eq(fbd_hint_cmd_id(drv), id);
	return id;
}

/* Used entries on free_page_vq: all of them have length 0. */
static unsigned drain_used(void)
{
	unsigned n = 0;
	uint32_t len;
	while (fbd_get_used(drv, BALLOON_Q_FREE_PAGE, &len) >= 0) {
		cr_assert_eq(len, 0);
		n++;
	}
	return n;
}

static const uint64_t blocks[] = {4 * MIB, 8 * MIB, 12 * MIB};

Test(balloon_hint, free_page_vq_sits_between_statsq_and_reporting_vq)
{
	struct balloon_config cfg = {.free_page_hinting = true,
				     .free_page_reporting = true};
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES,
				   .init_on_free = true};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	drv = &bed->drv;
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, &o), 0);
	cr_assert(fbd_has(drv, VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	cr_assert_eq(drv->q[BALLOON_Q_STATS], 2);
	cr_assert_eq(drv->q[BALLOON_Q_FREE_PAGE], 3);
	cr_assert_eq(drv->q[BALLOON_Q_REPORTING], 4);
	cr_assert_eq(fbd_hint_cmd_id(drv), STOP);
	/* A report still lands on its own queue. */
	struct fake_driver_sg r = {4 * MIB, 2 * MIB};
	cr_assert_geq(fbd_report(drv, &r, 1), 0);
	cr_assert_eq(bed->rd.nr, 1);
	cr_assert_eq(metrics().hint_outside_run, 0);
}

Test(balloon_hint, normal_run_records_hints_and_the_guest_stop_brings_done)
{
	up();
	uint32_t id = start(true);
	struct balloon_hint_status st = status();
	cr_assert_eq(st.state, BALLOON_HINT_REQUESTED);
	cr_assert_eq(st.host_cmd, id);
	cr_assert_not(st.guest_cmd_valid);

	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	st = status();
	cr_assert_eq(st.state, BALLOON_HINT_RUNNING);
	cr_assert(st.guest_cmd_valid);
	cr_assert_eq(st.guest_cmd, id);

	cr_assert_eq(fbd_hint_blocks(drv, blocks, 3), 3);
	cr_assert_eq(drain_used(), 4, "the id and three blocks are used");
	st = status();
	cr_assert_eq(st.ranges, 3);
	cr_assert_eq(st.bytes, 3 * BLOCK);
	cr_assert_eq(st.pages, 3 * BLOCK / FBD_PAGE);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 4 * MIB), 1);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 16 * MIB - FBD_PAGE), 1);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 4 * MIB - FBD_PAGE), 0);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 0), 0);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 16 * MIB), -EFAULT);

	fake_driver_ack_irq(&bed->tb->drv);
	cr_assert_geq(fbd_hint_stop(drv), 0);
	cr_assert(config_irq(), "DONE is announced");
	st = status();
	cr_assert_eq(st.state, BALLOON_HINT_DONE);
	cr_assert_eq(st.host_cmd, DONE);
	cr_assert_eq(st.guest_cmd, STOP);
	cr_assert(st.guest_stopped);
	cr_assert_neq(st.end_ns, 0);
	cr_assert_eq(fbd_hint_config_changed(drv), 0);
	cr_assert_eq(drv->hint_released, 3);
	cr_assert_eq(drv->hint_held, 0);

	/* Hints never discard (seed 004). */
	cr_assert_eq(bed->rd.nr, 0);
	struct balloon_metrics m = metrics();
	cr_assert_eq(m.hint_runs, 1);
	cr_assert_eq(m.hint_guest_starts, 1);
	cr_assert_eq(m.hint_guest_stops, 1);
	cr_assert_eq(m.hint_dones_written, 1);
	cr_assert_eq(m.hint_ranges, 3);
	cr_assert_eq(m.hint_bytes, 3 * BLOCK);
	cr_assert_eq(m.discard_bytes + m.report_bytes, 0);
}

Test(balloon_hint, host_stop_mid_run_keeps_hints_and_waits_for_done)
{
	up();
	uint32_t id = start(true);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_eq(fbd_hint_blocks(drv, blocks, 1), 1);

	fake_driver_ack_irq(&bed->tb->drv);
	cr_assert_eq(balloon_hint_stop(&bed->b), 0);
	cr_assert(config_irq());
	cr_assert_eq(fbd_hint_cmd_id(drv), STOP);
	cr_assert_eq(status().state, BALLOON_HINT_STOPPED);
	/* The driver's loop sees STOP and sends no more blocks... */
	cr_assert_eq(fbd_hint_blocks(drv, blocks + 1, 2), 0);
	/* ...and a hostile one's late block is ignored. */
	struct fake_driver_sg late = {8 * MIB, (uint32_t)BLOCK};
	cr_assert_geq(fbd_hint_send_ranges(drv, &late, 1), 0);
	cr_assert_eq(metrics().hint_outside_run, 1);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 8 * MIB), 0);

	/* The guest's STOP ends the run; the host stopped it, so no DONE. */
	cr_assert_geq(fbd_hint_stop(drv), 0);
	struct balloon_hint_status st = status();
	cr_assert_eq(st.state, BALLOON_HINT_STOPPED);
	cr_assert_eq(st.host_cmd, STOP);
	cr_assert(st.guest_stopped);
	cr_assert_eq(st.ranges, 1);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 4 * MIB), 1);
	cr_assert_eq(fbd_hint_config_changed(drv), 0);
	cr_assert_eq(drv->hint_released, 0, "STOP keeps the pages held");

	cr_assert_eq(balloon_hint_done(&bed->b), 0);
	cr_assert_eq(status().state, BALLOON_HINT_DONE);
	cr_assert_eq(fbd_hint_config_changed(drv), 0);
	cr_assert_eq(drv->hint_released, 1);
	cr_assert_eq(metrics().hint_stops_written, 1);
	cr_assert_eq(metrics().hint_dones_written, 1);
	cr_assert_eq(bed->rd.nr, 0);
}

Test(balloon_hint, stop_closing_a_superseded_run_is_stale_and_brings_no_done)
{
	up();
	uint32_t a = start(true);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_eq(fbd_hint_blocks(drv, blocks, 1), 1);

	/* The host starts again before the guest finished run a. */
	uint32_t b = start(true);
	cr_assert_neq(a, b);
	cr_assert_eq(fbd_hint_blocks(drv, blocks + 1, 1), 0);
	cr_assert_geq(fbd_hint_stop(drv), 0); /* closes run a */
	struct balloon_hint_status st = status();
	cr_assert_eq(st.host_cmd, b, "a stale STOP must not write DONE");
	cr_assert_eq(st.state, BALLOON_HINT_REQUESTED);
	cr_assert_not(st.guest_stopped);
	cr_assert_eq(metrics().hint_stale_cmds, 1);
	cr_assert_eq(balloon_hint_page(&bed->b, a, 4 * MIB), -ESTALE);

	/* Run b proceeds normally. */
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_eq(fbd_hint_blocks(drv, blocks + 1, 1), 1);
	cr_assert_eq(balloon_hint_page(&bed->b, b, 8 * MIB), 1);
	cr_assert_eq(balloon_hint_page(&bed->b, b, 4 * MIB), 0,
		     "run a's hints are not run b's");
	cr_assert_geq(fbd_hint_stop(drv), 0);
	cr_assert_eq(status().host_cmd, DONE);
}

Test(balloon_hint, hints_after_a_stale_id_are_ignored)
{
	up();
	uint32_t id = start(true);
	cr_assert_geq(fbd_hint_send_cmd(drv, id + 7), 0);
	struct fake_driver_sg r = {4 * MIB, (uint32_t)BLOCK};
	cr_assert_geq(fbd_hint_send_ranges(drv, &r, 1), 0);
	cr_assert_geq(fbd_hint_send_cmd(drv, STOP), 0);
	struct balloon_hint_status st = status();
	cr_assert_eq(st.state, BALLOON_HINT_REQUESTED);
	cr_assert_eq(st.host_cmd, id);
	cr_assert_eq(st.ranges, 0);
	cr_assert_eq(st.guest_cmd, STOP);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 4 * MIB), 0);
	struct balloon_metrics m = metrics();
	cr_assert_eq(m.hint_stale_cmds, 2, "the wrong id and its STOP");
	cr_assert_eq(m.hint_outside_run, 1);
	cr_assert_eq(m.hint_guest_stops, 0);
	/* DONE sent by a guest is no id either. */
	cr_assert_geq(fbd_hint_send_cmd(drv, DONE), 0);
	cr_assert_geq(fbd_hint_send_ranges(drv, &r, 1), 0);
	cr_assert_eq(status().ranges, 0);
	cr_assert_eq(drain_used(), 5);
}

Test(balloon_hint, an_old_id_sent_mid_run_makes_the_following_hints_stale)
{
	up();
	uint32_t old = start(true);
	uint32_t id = start(true);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_eq(fbd_hint_blocks(drv, blocks, 1), 1);
	/* A confused guest goes back to the superseded id. */
	cr_assert_geq(fbd_hint_send_cmd(drv, old), 0);
	struct fake_driver_sg r = {8 * MIB, (uint32_t)BLOCK};
	cr_assert_geq(fbd_hint_send_ranges(drv, &r, 1), 0);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 8 * MIB), 0);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 4 * MIB), 1);
	cr_assert_eq(metrics().hint_outside_run, 1);
	/* Its STOP closes the old id: the current run goes on. */
	cr_assert_geq(fbd_hint_send_cmd(drv, STOP), 0);
	cr_assert_eq(status().host_cmd, id);
	cr_assert_eq(metrics().hint_stale_cmds, 2);
}

Test(balloon_hint, hints_outside_a_run_are_used_and_ignored)
{
	up();
	struct fake_driver_sg r[2] = {{4 * MIB, (uint32_t)BLOCK},
				      {8 * MIB, (uint32_t)BLOCK}};
	/* Before any run, even after a STOP and a made-up id. */
	cr_assert_geq(fbd_hint_send_ranges(drv, r, 2), 0);
	cr_assert_geq(fbd_hint_send_cmd(drv, 2), 0);
	cr_assert_geq(fbd_hint_send_ranges(drv, r, 1), 0);
	cr_assert_eq(drain_used(), 3);
	cr_assert_eq(metrics().hint_outside_run, 3);
	struct balloon_hint_status st = status();
	cr_assert_eq(st.state, BALLOON_HINT_IDLE);
	cr_assert_eq(st.run_id, 0);
	cr_assert_eq(balloon_hint_page(&bed->b, 2, 4 * MIB), -ESTALE);

	/* After DONE. */
	uint32_t id = start(true);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_geq(fbd_hint_stop(drv), 0);
	cr_assert_eq(status().state, BALLOON_HINT_DONE);
	cr_assert_geq(fbd_hint_send_ranges(drv, r, 2), 0);
	cr_assert_eq(metrics().hint_outside_run, 5);
	cr_assert_eq(status().ranges, 0);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 4 * MIB), 0);
	cr_assert_eq(metrics().hint_ranges, 0);
	cr_assert_eq(bed->rd.nr, 0);
}

Test(balloon_hint, misaligned_ranges_and_bad_cmd_buffers_are_counted)
{
	up();
	uint32_t id = start(true);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	struct fake_driver_sg r[4] = {
		{4 * MIB + 512, 4096}, /* misaligned start */
		{4 * MIB, 4095},       /* partial page */
		{4 * MIB, 0},          /* empty */
		{8 * MIB, 8192},       /* fine */
	};
	cr_assert_geq(fbd_hint_send_ranges(drv, r, 4), 0);
	/* An output buffer that is not 4 bytes is no cmd id. */
	uint64_t gpa = fake_driver_alloc(&bed->tb->drv, 8, 8);
	struct fake_driver_sg cmd8 = {gpa, 8};
	cr_assert_geq(fbd_send_raw(drv, BALLOON_Q_FREE_PAGE, &cmd8, 1), 0);
	struct balloon_metrics m = metrics();
	cr_assert_eq(m.invalid_hint_ranges, 4);
	cr_assert_eq(m.hint_ranges, 1);
	struct balloon_hint_status st = status();
	cr_assert_eq(st.state, BALLOON_HINT_RUNNING, "a bad buffer ends nothing");
	cr_assert_eq(st.pages, 2);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 4 * MIB), 0);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 8 * MIB + FBD_PAGE), 1);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 8 * MIB + 2 * FBD_PAGE), 0);
	cr_assert_eq(drain_used(), 3);
}

/* A range outside guest RAM is a malformed descriptor (virtq): nothing of
 * the chain is recorded and the device asks for a reset. */
Test(balloon_hint, hints_past_ram_record_nothing_and_need_reset)
{
	const uint64_t bad[][2] = {
		{14 * MIB, BLOCK},             /* runs past RAM */
		{16 * MIB, BLOCK},             /* starts past RAM */
		{0xfffffffffffff000ULL, 8192}, /* wraps */
	};
	for (unsigned i = 0; i < 3; i++) {
		up();
		uint32_t id = start(true);
		cr_assert_eq(fbd_hint_config_changed(drv), 1);
		struct fake_driver_sg r[2] = {{4 * MIB, (uint32_t)BLOCK},
					      {bad[i][0], (uint32_t)bad[i][1]}};
		cr_assert_geq(fbd_hint_send_ranges(drv, r, 2), 0);
		cr_assert(fake_driver_status(&bed->tb->drv) &
			  VIRTIO_CONFIG_S_NEEDS_RESET);
		cr_assert_eq(status().ranges, 0);
		cr_assert_eq(balloon_hint_page(&bed->b, id, 4 * MIB), 0);
		cr_assert_eq(drain_used(), 1, "only the id was used");
		fbd_bed_free(bed);
		bed = NULL;
	}
}

Test(balloon_hint, cmd_ids_are_never_reused_before_the_guest_stop)
{
	up();
	uint32_t seen[8];
	for (unsigned i = 0; i < 8; i++) {
		seen[i] = start(i % 2);
		for (unsigned j = 0; j < i; j++)
			cr_assert_neq(seen[i], seen[j]);
		if (i == 3)
			cr_assert_eq(balloon_hint_stop(&bed->b), 0);
		if (i == 5)
			cr_assert_eq(balloon_hint_done(&bed->b), 0);
	}
	/* The guest never sent STOP for any of them: every id differs, and
	 * only the last one's run is current. */
	cr_assert_eq(status().run_id, seen[7]);
	cr_assert_eq(balloon_hint_page(&bed->b, seen[6], 4 * MIB), -ESTALE);
	/* After the guest's STOP the next id is still fresh. */
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_geq(fbd_hint_stop(drv), 0);
	uint32_t next = start(true);
	for (unsigned j = 0; j < 8; j++)
		cr_assert_neq(next, seen[j]);
	cr_assert_eq(metrics().hint_runs, 9);
}

Test(balloon_hint, without_acknowledge_on_stop_done_is_explicit)
{
	up();
	uint32_t id = start(false);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_eq(fbd_hint_blocks(drv, blocks, 2), 2);
	fake_driver_ack_irq(&bed->tb->drv);
	cr_assert_geq(fbd_hint_stop(drv), 0);
	cr_assert_not(config_irq());
	struct balloon_hint_status st = status();
	cr_assert_eq(st.state, BALLOON_HINT_STOPPED);
	cr_assert_eq(st.host_cmd, id);
	cr_assert(st.guest_stopped);
	cr_assert_not(st.acknowledge_on_stop);
	/* The driver keeps its pages: the id is still the one it ran. */
	cr_assert_eq(fbd_hint_config_changed(drv), 0);
	cr_assert_eq(drv->hint_held, 2);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 8 * MIB), 1);

	cr_assert_eq(balloon_hint_done(&bed->b), 0);
	cr_assert(config_irq());
	cr_assert_eq(status().state, BALLOON_HINT_DONE);
	cr_assert_eq(fbd_hint_config_changed(drv), 0);
	cr_assert_eq(drv->hint_released, 2);
	/* The record outlives DONE for the snapshot that asked for it. */
	cr_assert_eq(balloon_hint_page(&bed->b, id, 8 * MIB), 1);
}

Test(balloon_hint, reset_mid_run_voids_the_run_and_ids_stay_fresh)
{
	up();
	uint32_t id = start(true);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_eq(fbd_hint_blocks(drv, blocks, 2), 2);
	cr_assert_eq(status().ranges, 2);

	fake_driver_reset(&bed->tb->drv);
	struct balloon_hint_status st = status();
	cr_assert_eq(st.state, BALLOON_HINT_IDLE);
	cr_assert_eq(st.host_cmd, STOP);
	cr_assert_eq(st.run_id, 0);
	cr_assert_eq(st.ranges, 0);
	cr_assert_not(st.negotiated);
	cr_assert_eq(balloon_hint_page(&bed->b, id, 4 * MIB), -ESTALE);
	cr_assert_eq(balloon_hint_start(&bed->b, true, NULL), -ENODEV);

	/* The driver comes back; the next run has a new id. */
	fbd_destroy(drv);
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES};
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, &o), 0);
	cr_assert_eq(fbd_hint_cmd_id(drv), STOP);
	uint32_t next = start(true);
	cr_assert_neq(next, id);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	cr_assert_eq(fbd_hint_blocks(drv, blocks + 2, 1), 1);
	cr_assert_eq(balloon_hint_page(&bed->b, next, 12 * MIB), 1);
	cr_assert_eq(balloon_hint_page(&bed->b, next, 4 * MIB), 0);
}

Test(balloon_hint, host_calls_fail_unless_configured_and_negotiated)
{
	struct balloon_config off = {0};
	up_cfg(&off, NULL, FBD_LINUX_FEATURES);
	cr_assert_not(fake_driver_device_features(&bed->tb->drv) &
		      F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	cr_assert_eq(drv->q[BALLOON_Q_FREE_PAGE], -1);
	struct balloon_hint_status st;
	cr_assert_eq(balloon_hint_status(&bed->b, &st), -EOPNOTSUPP);
	cr_assert_not(st.enabled);
	cr_assert_eq(balloon_hint_start(&bed->b, true, NULL), -EOPNOTSUPP);
	cr_assert_eq(balloon_hint_stop(&bed->b), -EOPNOTSUPP);
	cr_assert_eq(balloon_hint_done(&bed->b), -EOPNOTSUPP);
	fbd_bed_free(bed);
	bed = NULL;

	/* Offered, but the driver does not take it. */
	struct balloon_config on = {.free_page_hinting = true};
	up_cfg(&on, NULL,
	       FBD_LINUX_FEATURES & ~F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	cr_assert_eq(balloon_hint_status(&bed->b, &st), 0);
	cr_assert(st.enabled);
	cr_assert_not(st.negotiated);
	cr_assert_eq(balloon_hint_start(&bed->b, true, NULL), -ENODEV);
	cr_assert_eq(balloon_hint_stop(&bed->b), -ENODEV);
	cr_assert_eq(fbd_hint_cmd_id(drv), STOP);
	fbd_bed_free(bed);
	bed = NULL;

	/* Configured but no driver yet. */
	bed = fbd_bed_new(&on, NULL);
	cr_assert(bed);
	cr_assert_eq(balloon_hint_start(&bed->b, true, NULL), -ENODEV);
}

Test(balloon_hint, driver_writes_to_the_cmd_id_are_dropped)
{
	up();
	uint32_t id = start(true);
	uint32_t v = htole32(DONE);
	fake_driver_config_write(
		&bed->tb->drv,
		offsetof(struct virtio_balloon_config, free_page_hint_cmd_id),
		&v, sizeof(v));
	cr_assert_eq(fbd_hint_cmd_id(drv), id);
}

struct sink_log {
	unsigned hinted, ended;
	uint32_t cmd_id, ended_id;
	uint64_t gpa, len, region_gpa;
};

static void sink_hinted(void *opaque, uint32_t cmd_id,
			const struct gmem_region *r, uint64_t gpa, uint64_t len)
{
	struct sink_log *s = opaque;
	s->hinted++;
	s->cmd_id = cmd_id;
	s->gpa = gpa;
	s->len = len;
	s->region_gpa = r->gpa;
}

static void sink_ended(void *opaque, uint32_t cmd_id)
{
	struct sink_log *s = opaque;
	s->ended++;
	s->ended_id = cmd_id;
}

Test(balloon_hint, sink_and_bitmap_see_hints_in_every_region)
{
	static struct sink_log slog;
	memset(&slog, 0, sizeof(slog));
	struct balloon_config cfg = {
		.free_page_hinting = true,
		.hint_sink = {.hinted = sink_hinted, .ended = sink_ended,
			      .opaque = &slog},
	};
	const struct fbd_layout l = {.ram_bytes = 16 * MIB,
				     .ram2_gpa = 64 * MIB,
				     .ram2_bytes = 8 * MIB};
	up_cfg(&cfg, &l, FBD_LINUX_FEATURES);
	uint32_t id = start(false);
	cr_assert_eq(fbd_hint_config_changed(drv), 1);
	const uint64_t two[] = {4 * MIB, 68 * MIB};
	cr_assert_eq(fbd_hint_blocks(drv, two, 2), 2);
	cr_assert_eq(slog.hinted, 2);
	cr_assert_eq(slog.cmd_id, id);
	cr_assert_eq(slog.gpa, 68 * MIB);
	cr_assert_eq(slog.len, BLOCK);
	cr_assert_eq(slog.region_gpa, 64 * MIB);

	uint64_t words[64], pages = 0;
	cr_assert_eq(balloon_hint_bitmap(&bed->b, id, 1, words, 64, &pages), 0);
	cr_assert_eq(pages, 8 * MIB / FBD_PAGE);
	/* Region 1 pages 1024..2047: words 16..31 full, the rest empty. */
	for (unsigned w = 0; w < 32; w++)
		cr_assert_eq(words[w], w >= 16 ? ~0ULL : 0, "word %u", w);
	cr_assert_eq(balloon_hint_bitmap(&bed->b, id, 0, words, 63, &pages),
		     -ENOSPC);
	cr_assert_eq(pages, 16 * MIB / FBD_PAGE);
	cr_assert_eq(balloon_hint_bitmap(&bed->b, id, 2, words, 64, &pages),
		     -EINVAL);
	cr_assert_eq(balloon_hint_bitmap(&bed->b, id + 1, 0, words, 64, &pages),
		     -ESTALE);

	cr_assert_geq(fbd_hint_stop(drv), 0);
	cr_assert_eq(slog.ended, 1);
	cr_assert_eq(slog.ended_id, id);
}
