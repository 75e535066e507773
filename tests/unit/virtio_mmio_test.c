/* virtio-mmio transport: registers, negotiation, queue setup, notifications,
 * interrupts and reset, driven only through MMIO by the fake driver. */
#include "fakes/fake_vdev.h"
#include "fakes/virtio_testbed.h"

#include <core/log.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>

#define DEV_ID 42
#define QMAX 256
#define F(b) (1ULL << (b))
#define TRANSPORT_F                                                            \
	(F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC) |              \
	 F(VIRTIO_RING_F_EVENT_IDX))

static struct fake_vdev *dev;
static struct virtio_testbed *tb;
static struct fake_driver *drv;

static void setup(void)
{
	log_set_level(LOG_ERROR); /* the hostile cases log by design */
	dev = calloc(1, sizeof(*dev));
	cr_assert(dev);
	fake_vdev_init(dev, DEV_ID, 2, QMAX);
	dev->offer = F(0) | F(5);
	tb = virtio_testbed_new(&dev->vdev, VIRTIO_TESTBED_RAM_DEFAULT);
	cr_assert(tb);
	drv = &tb->drv;
}

static void teardown(void)
{
	virtio_testbed_free(tb);
	free(dev);
}

TestSuite(virtio_mmio, .init = setup, .fini = teardown);

static struct virtio_mmio_metrics metrics(void)
{
	struct virtio_mmio_metrics m;
	virtio_mmio_get_metrics(&tb->t, &m);
	return m;
}

/* Negotiate everything, set up queue 0, DRIVER_OK. */
static void bring_up(uint64_t features)
{
	unsigned before = dev->activations;
	cr_assert_eq(fake_driver_negotiate(drv, features), 0);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, 16), 0);
	fake_driver_set_driver_ok(drv);
	cr_assert_eq(dev->activations, before + 1);
}

/* One echo request: returns the used length, checks the echoed bytes. */
static uint32_t round_trip(const char *msg)
{
	uint32_t n = (uint32_t)strlen(msg);
	uint64_t out = fake_driver_alloc(drv, n, 1),
		 in = fake_driver_alloc(drv, 64, 1);
	memcpy(fake_driver_ptr(drv, out, n), msg, n);
	struct fake_driver_sg sg[2] = {{out, n}, {in, 64}};
	int head = fake_driver_add(drv, 0, sg, 1, 1);
	cr_assert_geq(head, 0);
	fake_driver_kick(drv, 0);
	uint32_t len = 0;
	cr_assert_eq(fake_driver_get_used(drv, 0, &len), head);
	cr_assert_eq(memcmp(fake_driver_ptr(drv, in, n), msg, n), 0);
	return len;
}

Test(virtio_mmio, probe_reports_magic_version_and_ids)
{
	cr_assert_eq(fake_driver_probe(drv), DEV_ID);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_MAGIC_VALUE),
		     0x74726976);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_VENDOR_ID),
		     VIRTIO_MMIO_VENDOR_ID_MVMM);
	cr_assert_eq(fake_driver_status(drv), 0);
}

Test(virtio_mmio, offers_device_and_ring_features)
{
	cr_assert_eq(fake_driver_device_features(drv),
		     F(0) | F(5) | TRANSPORT_F);
	fake_driver_write(drv, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

Test(virtio_mmio, negotiates_subset_of_offer)
{
	cr_assert_eq(fake_driver_negotiate(drv, F(5) | F(VIRTIO_F_VERSION_1)),
		     0);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert_eq(dev->acked, F(5) | F(VIRTIO_F_VERSION_1));
}

Test(virtio_mmio, refuses_unoffered_features)
{
	fake_driver_add_status(drv, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	fake_driver_add_status(drv, VIRTIO_CONFIG_S_DRIVER);
	fake_driver_write_features(drv, F(VIRTIO_F_VERSION_1) | F(7));
	fake_driver_add_status(drv, VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert_not(fake_driver_status(drv) & VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert_eq(dev->acked, 0, "device must not see an invalid set");
}

Test(virtio_mmio, refuses_features_above_bit_63)
{
	fake_driver_add_status(drv, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	fake_driver_add_status(drv, VIRTIO_CONFIG_S_DRIVER);
	fake_driver_write_features(drv, F(VIRTIO_F_VERSION_1));
	fake_driver_write(drv, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	fake_driver_write(drv, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	fake_driver_add_status(drv, VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert_not(fake_driver_status(drv) & VIRTIO_CONFIG_S_FEATURES_OK);
}

Test(virtio_mmio, requires_version_1)
{
	cr_assert_eq(fake_driver_negotiate(drv, F(0)), -EIO);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_FAILED);
}

Test(virtio_mmio, device_can_refuse_features)
{
	dev->refuse_features = true;
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), -EIO);
	cr_assert_eq(dev->acked, F(0) | F(5) | TRANSPORT_F);
	cr_assert_not(fake_driver_status(drv) & VIRTIO_CONFIG_S_FEATURES_OK);
}

Test(virtio_mmio, ignores_feature_write_after_features_ok)
{
	cr_assert_eq(fake_driver_negotiate(drv, F(VIRTIO_F_VERSION_1)), 0);
	unsigned bad = metrics().bad_accesses;
	fake_driver_write_features(drv, F(VIRTIO_F_VERSION_1) |
						F(VIRTIO_RING_F_EVENT_IDX));
	cr_assert_eq(metrics().bad_accesses, bad + 2);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, 16), 0);
	fake_driver_set_driver_ok(drv);
	cr_assert_not(dev->queues[0].event_idx,
		      "late feature write must not take effect");
}

Test(virtio_mmio, status_bits_must_come_in_order)
{
	fake_driver_write(drv, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_DRIVER);
	cr_assert_eq(fake_driver_status(drv), 0);
	fake_driver_add_status(drv, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	fake_driver_add_status(drv, VIRTIO_CONFIG_S_DRIVER);
	fake_driver_add_status(drv,
			       VIRTIO_CONFIG_S_DRIVER_OK); /* no FEATURES_OK */
	cr_assert_eq(fake_driver_status(drv),
		     VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	fake_driver_write(drv, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	cr_assert_eq(fake_driver_status(drv),
		     VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
		     "clearing a bit other than by reset is ignored");
	cr_assert_eq(dev->activations, 0);
}

Test(virtio_mmio, sets_up_queue_and_activates_device)
{
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), 0);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, 0), 0);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_READY), 1);
	cr_assert_eq(dev->activations, 0);
	fake_driver_set_driver_ok(drv);
	cr_assert_eq(dev->activations, 1);
	cr_assert_eq(dev->nr_queues, 2);
	cr_assert_eq(dev->queues[0].size, QMAX);
	cr_assert_eq(dev->queues[0].desc_gpa, drv->q[0].desc_gpa);
	cr_assert_eq(dev->queues[0].avail_gpa, drv->q[0].avail_gpa);
	cr_assert_eq(dev->queues[0].used_gpa, drv->q[0].used_gpa);
	cr_assert(dev->queues[0].event_idx && dev->queues[0].indirect);
	cr_assert_not(dev->queues[1].ready, "queue 1 was never enabled");
}

Test(virtio_mmio, reports_no_queue_past_the_last)
{
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), 0);
	cr_assert_eq(fake_driver_setup_queue(drv, 2, 0), -ENOENT);
}

Test(virtio_mmio, ignores_queue_sel_out_of_range)
{
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), 0);
	unsigned bad = metrics().bad_accesses;
	fake_driver_setup_queue_at(drv, 7, 16, 0x1000, 0x2000, 0x3000);
	cr_assert_eq(metrics().bad_accesses, bad + 8);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_READY), 0);
}

Test(virtio_mmio, rejects_queue_size_not_power_of_two)
{
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), 0);
	fake_driver_setup_queue_at(drv, 0, 12, 0x1000, 0x2000, 0x3000);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
	fake_driver_set_driver_ok(drv);
	cr_assert_eq(dev->activations, 0, "a broken device is not activated");
	cr_assert_eq(fake_driver_ack_irq(drv), VIRTIO_MMIO_INT_CONFIG);
}

Test(virtio_mmio, rejects_queue_size_above_max)
{
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), 0);
	unsigned bad = metrics().bad_accesses;
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 0);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_NUM, QMAX * 2);
	cr_assert_eq(metrics().bad_accesses, bad + 1);
}

Test(virtio_mmio, rejects_rings_outside_ram)
{
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), 0);
	fake_driver_setup_queue_at(drv, 0, 16, 0x1000, 0x2000,
				   VIRTIO_TESTBED_RAM_DEFAULT - 64);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

Test(virtio_mmio, ignores_queue_writes_after_driver_ok)
{
	bring_up(~0ULL);
	unsigned bad = metrics().bad_accesses;
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 1);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_NUM, 8);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(metrics().bad_accesses, bad + 2);
	cr_assert_not(dev->queues[1].ready);
	cr_assert_eq(dev->queues[1].size, 0);
}

Test(virtio_mmio, ignores_queue_writes_while_ready)
{
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), 0);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, 16), 0);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_NUM, 8);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	fake_driver_set_driver_ok(drv);
	cr_assert_eq(dev->queues[0].size, 16);
	cr_assert_eq(dev->queues[0].desc_gpa, drv->q[0].desc_gpa);
}

Test(virtio_mmio, round_trip_echoes_and_interrupts)
{
	bring_up(~0ULL);
	cr_assert_eq(round_trip("hello, device"), 13);
	cr_assert_eq(dev->notifies[0], 1);
	cr_assert_eq(tb->irqs, 1);
	cr_assert_eq(fake_driver_ack_irq(drv), VIRTIO_MMIO_INT_VRING);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_eq(metrics().kicks, 1);
}

Test(virtio_mmio, round_trip_through_indirect_table)
{
	bring_up(~0ULL);
	uint64_t out = fake_driver_alloc(drv, 4, 1),
		 in1 = fake_driver_alloc(drv, 2, 1),
		 in2 = fake_driver_alloc(drv, 2, 1);
	memcpy(fake_driver_ptr(drv, out, 4), "abcd", 4);
	struct fake_driver_sg sg[3] = {{out, 4}, {in1, 2}, {in2, 2}};
	int head = fake_driver_add_indirect(drv, 0, sg, 1, 2);
	cr_assert_geq(head, 0);
	fake_driver_kick(drv, 0);
	uint32_t len;
	cr_assert_eq(fake_driver_get_used(drv, 0, &len), head);
	cr_assert_eq(len, 4);
	cr_assert_eq(memcmp(fake_driver_ptr(drv, in1, 2), "ab", 2), 0);
	cr_assert_eq(memcmp(fake_driver_ptr(drv, in2, 2), "cd", 2), 0);
}

Test(virtio_mmio, ignores_notify_before_driver_ok)
{
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), 0);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, 16), 0);
	uint64_t buf = fake_driver_alloc(drv, 8, 1);
	fake_driver_add(drv, 0, &(struct fake_driver_sg){buf, 8}, 1, 0);
	fake_driver_notify(drv, 0);
	cr_assert_eq(dev->notifies[0], 0);
	cr_assert_eq(metrics().kicks_ignored, 1);
	cr_assert_eq(fake_driver_get_used(drv, 0, NULL), -EAGAIN);
	fake_driver_set_driver_ok(drv);
	fake_driver_notify(drv, 0);
	cr_assert_eq(dev->notifies[0], 1);
	cr_assert_geq(fake_driver_get_used(drv, 0, NULL), 0);
}

Test(virtio_mmio, ignores_notify_of_unknown_or_disabled_queue)
{
	bring_up(~0ULL);
	fake_driver_notify(drv, 1); /* exists, never enabled */
	fake_driver_notify(drv, 5);
	fake_driver_notify(drv, 0xffffffffU);
	cr_assert_eq(dev->notifies[0] + dev->notifies[1], 0);
	cr_assert_eq(metrics().kicks_ignored, 3);
}

Test(virtio_mmio, queue_event_from_the_main_loop_processes_the_queue)
{
	bring_up(~0ULL);
	uint64_t buf = fake_driver_alloc(drv, 8, 1);
	/* Not notified on the bus: KVM's ioeventfd took the QueueNotify
	 * write, and the main loop hands its event to the transport. */
	fake_driver_add(drv, 0, &(struct fake_driver_sg){buf, 8}, 0, 1);
	cr_assert_eq(dev->notifies[0], 0);
	virtio_mmio_queue_event(&tb->t, 0);
	cr_assert_eq(dev->notifies[0], 1);
	cr_assert_eq(metrics().kicks, 1);
	cr_assert_geq(fake_driver_get_used(drv, 0, NULL), 0);
}

Test(virtio_mmio, ignores_wrong_width_access)
{
	uint16_t v16 = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	bus_write(&tb->bus, VIRTIO_TESTBED_MMIO_BASE + VIRTIO_MMIO_STATUS, &v16,
		  2);
	cr_assert_eq(fake_driver_status(drv), 0);
	uint8_t b = 0xaa;
	bus_read(&tb->bus, VIRTIO_TESTBED_MMIO_BASE + VIRTIO_MMIO_MAGIC_VALUE,
		 &b, 1);
	cr_assert_eq(b, 0);
	uint32_t v = 0xaaaaaaaa;
	bus_read(&tb->bus,
		 VIRTIO_TESTBED_MMIO_BASE + VIRTIO_MMIO_MAGIC_VALUE + 2, &v, 4);
	cr_assert_eq(v, 0, "unaligned 32-bit read");
	uint64_t v64 = 1;
	bus_write(&tb->bus, VIRTIO_TESTBED_MMIO_BASE + VIRTIO_MMIO_STATUS, &v64,
		  8);
	cr_assert_eq(fake_driver_status(drv), 0);
	cr_assert_eq(metrics().bad_accesses, 4);
}

Test(virtio_mmio, ignores_unknown_offsets_and_read_only_writes)
{
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_GUEST_PAGE_SIZE), 0);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_PFN, 5);
	fake_driver_write(drv, VIRTIO_MMIO_MAGIC_VALUE, 0);
	fake_driver_write(drv, VIRTIO_MMIO_INTERRUPT_STATUS, 3);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_MAGIC_VALUE),
		     0x74726976);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_NUM), 0,
		     "write-only");
	cr_assert_eq(metrics().bad_accesses, 5);
}

Test(virtio_mmio, reports_no_shared_memory)
{
	fake_driver_write(drv, VIRTIO_MMIO_SHM_SEL, 0);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_SHM_LEN_LOW),
		     0xffffffffU);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_SHM_LEN_HIGH),
		     0xffffffffU);
}

Test(virtio_mmio, config_window_is_bounds_checked)
{
	for (unsigned i = 0; i < FAKE_VDEV_CONFIG_SIZE; i++)
		dev->config[i] = (uint8_t)(0x10 + i);
	uint8_t b;
	uint16_t h;
	uint64_t q;
	fake_driver_config_read(drv, 3, &b, 1);
	cr_assert_eq(b, 0x13);
	fake_driver_config_read(drv, 2, &h, 2);
	cr_assert_eq(h, 0x1312);
	fake_driver_config_read(drv, 8, &q, 8);
	cr_assert_eq(q, 0x1f1e1d1c1b1a1918ULL);
	uint32_t w = 0xdeadbeef;
	fake_driver_config_read(drv, FAKE_VDEV_CONFIG_SIZE - 2, &w, 4);
	cr_assert_eq(w, 0, "read straddling the end returns zeros");
	fake_driver_config_write(drv, FAKE_VDEV_CONFIG_SIZE, &w, 4);
	fake_driver_config_write(drv, 0xf0, &w, 4);
	cr_assert_eq(dev->config_writes, 0);
	w = 0x01020304;
	fake_driver_config_write(drv, 4, &w, 4);
	cr_assert_eq(dev->config_writes, 1);
	cr_assert_eq(memcmp(dev->config + 4, &w, 4), 0);
	cr_assert_eq(metrics().bad_accesses, 3);
}

Test(virtio_mmio, config_change_bumps_generation_and_interrupts)
{
	bring_up(~0ULL);
	uint32_t gen = fake_driver_read(drv, VIRTIO_MMIO_CONFIG_GENERATION);
	dev->host->config_changed(dev->host->t);
	cr_assert_neq(fake_driver_read(drv, VIRTIO_MMIO_CONFIG_GENERATION),
		      gen);
	cr_assert_eq(tb->irqs, 1);
	cr_assert_eq(fake_driver_ack_irq(drv), VIRTIO_MMIO_INT_CONFIG);
}

Test(virtio_mmio, malformed_chain_sets_needs_reset)
{
	bring_up(~0ULL);
	fake_driver_set_desc(drv, 0, 0, 0x100, 8, VRING_DESC_F_NEXT,
			     0); /* loop */
	fake_driver_publish_head(drv, 0, 0);
	fake_driver_notify(drv, 0);
	cr_assert_eq(dev->malformed, 1);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(fake_driver_ack_irq(drv), VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(metrics().needs_reset, 1);
	/* The device stays quiet until reset. */
	fake_driver_notify(drv, 0);
	cr_assert_eq(dev->notifies[0], 1);
	/* Writing back what it read (NEEDS_RESET included) is harmless. */
	fake_driver_add_status(drv, 0);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_DRIVER_OK);
}

Test(virtio_mmio, reset_clears_state_and_reinitialises)
{
	bring_up(~0ULL);
	round_trip("first life");
	dev->host->config_changed(dev->host->t);
	unsigned resets = dev->resets;
	fake_driver_reset(drv);
	cr_assert_eq(dev->resets, resets + 1);
	cr_assert_null(dev->queues);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_READY), 0);
	/* Fresh rings at new addresses, indices from zero. */
	bring_up(F(VIRTIO_F_VERSION_1));
	cr_assert_eq(dev->activations, 2);
	cr_assert_not(dev->queues[0].event_idx);
	cr_assert_eq(round_trip("second life"), 11);
	cr_assert_eq(metrics().resets, 3); /* negotiate resets too */
}

Test(virtio_mmio, reset_recovers_from_needs_reset)
{
	bring_up(~0ULL);
	fake_driver_set_desc(drv, 0, 0, VIRTIO_TESTBED_RAM_DEFAULT, 8, 0, 0);
	fake_driver_publish_head(drv, 0, 0);
	fake_driver_notify(drv, 0);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
	fake_driver_reset(drv);
	cr_assert_eq(fake_driver_status(drv), 0);
	bring_up(~0ULL);
	cr_assert_eq(round_trip("ok again"), 8);
}

Test(virtio_mmio, queue_stop_makes_device_ignore_it)
{
	bring_up(~0ULL);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 0);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_READY, 0);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_READY), 0);
	fake_driver_notify(drv, 0);
	cr_assert_eq(dev->notifies[0], 0);
}

Test(virtio_mmio, ring_ranges_are_the_rings_of_every_sized_queue)
{
	struct virtq_range r[VIRTIO_MMIO_MAX_RING_RANGES];
	cr_assert_eq(virtio_mmio_ring_ranges(&tb->t, r, 0), 0, "no queue yet");
	bring_up(~0ULL); /* queue 0: 16 entries */
	cr_assert_eq(virtio_mmio_ring_ranges(&tb->t, r, 3), 3);
	const struct fake_driver_queue *q = &drv->q[0];
	const uint64_t want[3][2] = {
		{q->desc_gpa, 16 * 16},
		{q->avail_gpa, 2 + 2 + 2 * 16 + 2}, /* used_event at the end */
		{q->used_gpa, 2 + 2 + 8 * 16 + 2},  /* avail_event at the end */
	};
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(r[i].gpa, want[i][0], "ring %u", i);
		cr_assert_eq(r[i].len, want[i][1], "ring %u", i);
	}
	/* A stopped queue still counts: its size stays until a reset. */
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 0);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_READY, 0);
	cr_assert_eq(virtio_mmio_ring_ranges(&tb->t, r, 3), 3);
	cr_assert_eq(r[2].gpa, q->used_gpa);
}

Test(virtio_mmio, ring_ranges_count_every_queue_or_refuse)
{
	cr_assert_eq(fake_driver_negotiate(drv, ~0ULL), 0);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, 16), 0);
	/* Queue 1 sized but never enabled: the ranges say where it lies. */
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 1);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_NUM, 8);
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x8000);
	fake_driver_set_driver_ok(drv);
	struct virtq_range r[VIRTIO_MMIO_MAX_RING_RANGES];
	int n = virtio_mmio_ring_ranges(&tb->t, r, VIRTIO_MMIO_MAX_RING_RANGES);
	cr_assert_eq(n, 6);
	cr_assert_eq(r[0].gpa, drv->q[0].desc_gpa);
	cr_assert_eq(r[3].gpa, 0x8000);
	cr_assert_eq(r[3].len, 16 * 8);
	cr_assert_eq(virtio_mmio_ring_ranges(&tb->t, r, 5), -ENOSPC,
		     "a partial answer would leave rings unmarked");
	/* A reset forgets every queue. */
	fake_driver_reset(drv);
	cr_assert_eq(virtio_mmio_ring_ranges(&tb->t, r, 6), 0);
}

Test(virtio_mmio, rejects_bad_device_description)
{
	struct virtio_mmio t;
	struct fake_vdev bad;
	struct irq_trigger irq = {0};
	fake_vdev_init(&bad, 1, VIRTIO_MMIO_MAX_QUEUES + 1, 256);
	cr_assert_eq(virtio_mmio_init(&t, &bad.vdev, &tb->mem, irq), -EINVAL);
	fake_vdev_init(&bad, 1, 1, 100);
	cr_assert_eq(virtio_mmio_init(&t, &bad.vdev, &tb->mem, irq), -EINVAL);
	fake_vdev_init(&bad, 1, 1, 256);
	bad.vdev.config_size = 0x101;
	cr_assert_eq(virtio_mmio_init(&t, &bad.vdev, &tb->mem, irq), -EINVAL);
}

Test(virtio_mmio, formats_kernel_cmdline_argument)
{
	char buf[64];
	int n = virtio_mmio_cmdline_arg(buf, sizeof(buf), 0xd0000000, 5);
	cr_assert_str_eq(buf, "virtio_mmio.device=512@0xd0000000:5");
	cr_assert_eq(n, (int)strlen(buf));
	cr_assert_eq(virtio_mmio_cmdline_arg(buf, 10, 0xd0000000, 5), -ENOSPC);
}
