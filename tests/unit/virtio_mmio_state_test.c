/* virtio-mmio snapshot state: a transport driven by the fake driver is
 * saved, a second transport (a fresh fake device) is built over the same
 * guest memory and restored, the driver is moved over to it and carries on;
 * every invalid image is refused without touching the new transport. */
#include "fakes/fake_vdev.h"
#include "fakes/virtio_testbed.h"

#include <core/log.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>

#define DEV_ID 42
#define QMAX 256
#define F(b) (1ULL << (b))
#define ALL_F (~0ULL)

static struct fake_vdev *dev, *dev2;
static struct virtio_testbed *tb;
static struct fake_driver *drv;
/* The restored side: a new transport over tb's guest memory. */
static struct virtio_mmio t2;
static struct bus bus2;
static unsigned irqs2;
static char err[256];

static int count_irq2(void *opaque)
{
	(void)opaque;
	irqs2++;
	return 0;
}

static void setup(void)
{
	log_set_level(LOG_ERROR);
	dev = calloc(1, sizeof(*dev));
	dev2 = calloc(1, sizeof(*dev2));
	cr_assert(dev && dev2);
	fake_vdev_init(dev, DEV_ID, 2, QMAX);
	fake_vdev_init(dev2, DEV_ID, 2, QMAX);
	dev->offer = dev2->offer = F(0) | F(5);
	tb = virtio_testbed_new(&dev->vdev, VIRTIO_TESTBED_RAM_DEFAULT);
	cr_assert(tb);
	drv = &tb->drv;
	irqs2 = 0;
	err[0] = 0;
	cr_assert_eq(virtio_mmio_init(&t2, &dev2->vdev, &tb->mem,
				      (struct irq_trigger){count_irq2, NULL}),
		     0);
	bus_init(&bus2);
	cr_assert_eq(bus_insert(&bus2, VIRTIO_TESTBED_MMIO_BASE,
				VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, &t2),
		     0);
}

static void teardown(void)
{
	virtio_mmio_destroy(&t2);
	virtio_testbed_free(tb);
	free(dev);
	free(dev2);
}

TestSuite(virtio_mmio_state, .init = setup, .fini = teardown);

static void bring_up(uint64_t features)
{
	cr_assert_eq(fake_driver_negotiate(drv, features), 0);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, 16), 0);
	cr_assert_eq(fake_driver_setup_queue(drv, 1, 8), 0);
	fake_driver_set_driver_ok(drv);
	cr_assert_eq(dev->activations, 1);
}

/* Adds one echo request on q and kicks; returns its head. */
static int post(unsigned q, const char *msg, uint64_t *in)
{
	uint32_t n = (uint32_t)strlen(msg);
	uint64_t out = fake_driver_alloc(drv, n, 1);
	*in = fake_driver_alloc(drv, 64, 1);
	memcpy(fake_driver_ptr(drv, out, n), msg, n);
	struct fake_driver_sg sg[2] = {{out, n}, {*in, 64}};
	int head = fake_driver_add(drv, q, sg, 1, 1);
	cr_assert_geq(head, 0);
	return head;
}

static void round_trip(unsigned q, const char *msg)
{
	uint64_t in;
	int head = post(q, msg, &in);
	fake_driver_kick(drv, q);
	uint32_t len = 0;
	cr_assert_eq(fake_driver_get_used(drv, q, &len), head);
	cr_assert_eq(len, strlen(msg));
	cr_assert_eq(memcmp(fake_driver_ptr(drv, in, len), msg, len), 0);
}

static void save(struct virtio_mmio_state *st)
{
	memset(st, 0xa5, sizeof(*st)); /* save must write every byte */
	cr_assert_eq(virtio_mmio_save(&tb->t, st), 0);
}

/* The guest's driver now reaches the restored transport. */
static void move_driver(void) { drv->bus = &bus2; }

static void restore_ok(const struct virtio_mmio_state *st)
{
	int r = virtio_mmio_restore(&t2, st, err, sizeof(err));
	cr_assert_eq(r, 0, "restore: %d %s", r, err);
	move_driver();
}

Test(virtio_mmio_state, round_trip_restores_every_register_and_queue)
{
	bring_up(ALL_F);
	round_trip(0, "one");
	round_trip(0, "two");
	round_trip(1, "three");
	fake_driver_write(drv, VIRTIO_MMIO_QUEUE_SEL, 1);
	fake_driver_write(drv, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	dev->host->config_changed(dev->host->t);
	uint32_t isr = fake_driver_read(drv, VIRTIO_MMIO_INTERRUPT_STATUS);
	uint32_t gen = fake_driver_read(drv, VIRTIO_MMIO_CONFIG_GENERATION);
	uint32_t status = fake_driver_status(drv);
	cr_assert_eq(isr, VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);

	struct virtio_mmio_state st, again;
	save(&st);
	restore_ok(&st);
	cr_assert_eq(dev2->activations, 1, "activated once, as at DRIVER_OK");
	cr_assert_eq(dev2->nr_queues, 2);
	cr_assert_eq(dev2->acked, tb->t.driver_features);
	cr_assert_eq(irqs2, 1, "pending InterruptStatus fires once");
	cr_assert_eq(fake_driver_status(drv), status);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_INTERRUPT_STATUS), isr);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	cr_assert_eq(fake_driver_read(drv, VIRTIO_MMIO_QUEUE_READY), 1,
		     "QueueSel 1");
	cr_assert(t2.queues[0].event_idx && t2.queues[0].indirect);
	/* Saving the restored transport gives the same image. */
	cr_assert_eq(virtio_mmio_save(&t2, &again), 0);
	cr_assert_eq(memcmp(&st, &again, sizeof(st)), 0);

	/* The driver carries on: used indices continue where they were. */
	fake_driver_ack_irq(drv);
	round_trip(0, "four");
	round_trip(1, "five");
	cr_assert_eq(t2.queues[0].used_idx, 3);
	cr_assert_eq(t2.queues[1].used_idx, 2);
	cr_assert_geq(irqs2, 3);
}

Test(virtio_mmio_state, chain_in_flight_at_save_completes_after_restore)
{
	bring_up(ALL_F);
	round_trip(0, "warm");
	dev->manual = true;
	uint64_t in;
	int head = post(0, "held", &in);
	fake_driver_kick(drv, 0);
	/* The old device popped the chain and still holds it. */
	struct virtq_chain *chain = malloc(sizeof(*chain));
	cr_assert_eq(virtq_pop(&tb->t.queues[0], chain), 1);
	cr_assert_eq(chain->head, head);
	/* Popping until empty re-arms avail_event, as every device does. */
	cr_assert_eq(virtq_pop(&tb->t.queues[0], chain), 0);
	free(chain);

	struct virtio_mmio_state st;
	save(&st);
	cr_assert_eq(st.queues[0].last_avail - st.queues[0].used_idx, 1);
	restore_ok(&st);
	/* The new device answers it from the restored indices. */
	cr_assert_eq(virtq_push_used(&t2.queues[0], (uint16_t)head, 0), 0);
	dev2->host->notify_queue(dev2->host->t, 0);
	uint32_t len;
	cr_assert_eq(fake_driver_get_used(drv, 0, &len), head);
	round_trip(0, "after");
}

Test(virtio_mmio_state, buffer_posted_without_a_handled_kick_is_not_lost)
{
	bring_up(ALL_F);
	uint64_t in;
	int head = post(0, "late", &in); /* its kick never reached a device */
	struct virtio_mmio_state st;
	save(&st);
	restore_ok(&st);
	cr_assert_eq(dev2->completed, 0, "restore itself runs no requests");
	virtio_mmio_restored(&t2);
	cr_assert_eq(dev2->completed, 1);
	uint32_t len;
	cr_assert_eq(fake_driver_get_used(drv, 0, &len), head);
	cr_assert_eq(memcmp(fake_driver_ptr(drv, in, 4), "late", 4), 0);
	virtio_mmio_restored(&t2);
	cr_assert_eq(dev2->completed, 1, "nothing waiting: nothing done");
}

Test(virtio_mmio_state, needs_reset_restores_as_is_and_a_reset_recovers)
{
	bring_up(ALL_F);
	fake_driver_set_desc(drv, 0, 0, 0x100, 8, VRING_DESC_F_NEXT,
			     0); /* loop */
	fake_driver_publish_head(drv, 0, 0);
	fake_driver_notify(drv, 0);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
	struct virtio_mmio_state st;
	save(&st);
	restore_ok(&st);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
	fake_driver_notify(drv, 0);
	cr_assert_eq(dev2->notifies[0], 0, "kicks ignored until reset");
	fake_driver_reset(drv);
	cr_assert_eq(dev2->resets, 1);
	bring_up(ALL_F);
	round_trip(0, "fresh");
}

Test(virtio_mmio_state, broken_before_driver_ok_is_not_activated)
{
	cr_assert_eq(fake_driver_negotiate(drv, ALL_F), 0);
	fake_driver_setup_queue_at(drv, 0, 12, 0x1000, 0x2000, 0x3000);
	fake_driver_set_driver_ok(drv);
	cr_assert_eq(dev->activations, 0);
	struct virtio_mmio_state st;
	save(&st);
	cr_assert_eq(st.activated, 0);
	restore_ok(&st);
	cr_assert_eq(dev2->activations, 0);
	cr_assert(fake_driver_status(drv) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

Test(virtio_mmio_state, mid_negotiation_state_lets_the_driver_finish)
{
	cr_assert_eq(fake_driver_negotiate(drv, F(VIRTIO_F_VERSION_1) | F(5)),
		     0);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, 16), 0);
	struct virtio_mmio_state st;
	save(&st);
	restore_ok(&st);
	cr_assert_eq(dev2->activations, 0);
	cr_assert_eq(dev2->acked, F(VIRTIO_F_VERSION_1) | F(5));
	cr_assert_eq(fake_driver_setup_queue(drv, 1, 8), 0);
	fake_driver_set_driver_ok(drv);
	cr_assert_eq(dev2->activations, 1);
	cr_assert_not(t2.queues[0].event_idx);
	round_trip(0, "finished");
	round_trip(1, "both");
}

Test(virtio_mmio_state, refuses_a_transport_already_in_use)
{
	bring_up(ALL_F);
	struct virtio_mmio_state st;
	save(&st);
	cr_assert_eq(virtio_mmio_restore(&tb->t, &st, err, sizeof(err)), -EBUSY);
	cr_assert(strstr(err, "freshly"), "%s", err);
	cr_assert_eq(strstr(err, "virtio-mmio (device "), err, "%s", err);
}

/* A corrupted image is refused with a message and t2 stays fresh. */
static void expect_refused(struct virtio_mmio_state *st, const char *word)
{
	struct virtio_mmio_state before, after;
	cr_assert_eq(virtio_mmio_save(&t2, &before), 0);
	err[0] = 0;
	cr_assert_eq(virtio_mmio_restore(&t2, st, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, word), "message \"%s\" lacks \"%s\"", err, word);
	cr_assert_eq(strstr(err, "virtio-mmio (device "), err,
		     "message \"%s\" does not name the transport first", err);
	cr_assert_eq(virtio_mmio_save(&t2, &after), 0);
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0);
	cr_assert_eq(dev2->activations, 0);
	cr_assert_eq(irqs2, 0);
	/* Still a fresh device: a driver can bring it up. */
	move_driver();
	fake_driver_reset(drv);
	cr_assert_eq(fake_driver_negotiate(drv, ALL_F), 0);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, 16), 0);
	fake_driver_set_driver_ok(drv);
	cr_assert_eq(dev2->activations, 1);
}

static void saved_running(struct virtio_mmio_state *st)
{
	bring_up(ALL_F);
	round_trip(0, "x");
	save(st);
}

Test(virtio_mmio_state, refuses_wrong_device_id)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.device_id = 5;
	expect_refused(&st, "device id 5");
}

Test(virtio_mmio_state, refuses_features_the_device_does_not_offer)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	dev2->offer = F(0); /* configured without feature 5 */
	expect_refused(&st, "bit 5");
}

Test(virtio_mmio_state, refuses_features_ok_without_version_1)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.driver_features &= ~F(VIRTIO_F_VERSION_1);
	expect_refused(&st, "VERSION_1");
}

Test(virtio_mmio_state, refuses_features_the_device_rejects)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	dev2->refuse_features = true;
	struct virtio_mmio_state before, after;
	virtio_mmio_save(&t2, &before);
	cr_assert_eq(virtio_mmio_restore(&t2, &st, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "refuses"), "%s", err);
	virtio_mmio_save(&t2, &after);
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0);
	cr_assert_eq(dev2->activations, 0);
	cr_assert_eq(dev2->resets, 1);
}

Test(virtio_mmio_state, refuses_driver_ok_without_features_ok)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	expect_refused(&st, "DRIVER_OK without FEATURES_OK");
}

Test(virtio_mmio_state, refuses_unknown_status_bits)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.status |= 0x10;
	expect_refused(&st, "unknown bits");
}

Test(virtio_mmio_state, refuses_driver_ok_never_activated)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.activated = 0;
	expect_refused(&st, "never activated");
}

Test(virtio_mmio_state, refuses_queue_size_not_power_of_two)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.queues[0].size = 12;
	expect_refused(&st, "power of two");
}

Test(virtio_mmio_state, refuses_queue_size_above_max)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.queues[1].size = QMAX * 2;
	expect_refused(&st, "above the max");
}

Test(virtio_mmio_state, refuses_ring_outside_guest_ram)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.queues[0].used_gpa = VIRTIO_TESTBED_RAM_DEFAULT - 64;
	expect_refused(&st, "outside guest RAM");
}

Test(virtio_mmio_state, refuses_more_in_flight_than_the_queue_holds)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.queues[0].last_avail = (uint16_t)(st.queues[0].used_idx + 17);
	expect_refused(&st, "in flight");
}

Test(virtio_mmio_state, refuses_a_queue_the_device_lacks)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.queues[2] = st.queues[0];
	expect_refused(&st, "no such queue");
}

Test(virtio_mmio_state, refuses_wrong_queue_count)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.nr_queues = 1;
	struct virtio_mmio_state before, after;
	virtio_mmio_save(&t2, &before);
	cr_assert_eq(virtio_mmio_restore(&t2, &st, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "nr_queues"), "%s", err);
	virtio_mmio_save(&t2, &after);
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0);
	cr_assert_eq(dev2->resets, 1, "the device's features undone by a reset");
	cr_assert_eq(dev2->activations, 0);
}

Test(virtio_mmio_state, refuses_interrupt_bits_it_never_raises)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.interrupt_status = 4;
	expect_refused(&st, "InterruptStatus");
}

Test(virtio_mmio_state, refuses_nonzero_padding)
{
	struct virtio_mmio_state st;
	saved_running(&st);
	st.queues[1].pad[4] = 1;
	expect_refused(&st, "padding");
}
