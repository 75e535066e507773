/* Split virtqueue, device side: chains the fake driver lays out (well-formed
 * and hostile) popped straight from the queue the transport activated. */
#include "fakes/fake_vdev.h"
#include "fakes/virtio_testbed.h"

#include <core/gmem.h>
#include <core/log.h>
#include <devices/virtq.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <string.h>

#define QSIZE 8
#define RAM VIRTIO_TESTBED_RAM_DEFAULT
#define F(b) (1ULL << (b))
#define NEXT VRING_DESC_F_NEXT
#define WRITE VRING_DESC_F_WRITE
#define INDIRECT VRING_DESC_F_INDIRECT

static struct fake_vdev *dev;
static struct virtio_testbed *tb;
static struct fake_driver *drv;
static struct virtq *vq;
static struct virtq_chain chain;

static void bring_up(uint64_t features)
{
	cr_assert_eq(fake_driver_negotiate(drv, features), 0);
	cr_assert_eq(fake_driver_setup_queue(drv, 0, QSIZE), 0);
	fake_driver_set_driver_ok(drv);
	cr_assert(dev->queues && dev->queues[0].ready);
	vq = &dev->queues[0];
}

static void setup(void)
{
	log_set_level(LOG_ERROR); /* the hostile cases log by design */
	dev = calloc(1, sizeof(*dev));
	cr_assert(dev);
	fake_vdev_init(dev, 42, 1, 256);
	dev->manual = true; /* tests pop by hand */
	tb = virtio_testbed_new(&dev->vdev, RAM);
	cr_assert(tb);
	drv = &tb->drv;
	bring_up(~0ULL);
}

static void teardown(void)
{
	virtio_testbed_free(tb);
	free(dev);
}

TestSuite(virtq, .init = setup, .fini = teardown);

/* Publishes head and expects virtq_pop to reject it without consuming. */
static void expect_malformed(uint16_t head)
{
	fake_driver_publish_head(drv, 0, head);
	cr_assert_eq(virtq_pop(vq, &chain), -EINVAL);
	cr_assert_eq(vq->malformed, 1);
	cr_assert_eq(vq->last_avail, 0, "a bad chain is not consumed");
}

Test(virtq, empty_queue_pops_nothing)
{
	cr_assert_eq(virtq_pop(vq, &chain), 0);
	cr_assert_eq(vq->last_avail, 0);
}

Test(virtq, pops_readable_then_writable_segments)
{
	struct fake_driver_sg sg[3] = {
		{0x1000, 10}, {0x2000, 20}, {0x3000, 300}};
	int head = fake_driver_add(drv, 0, sg, 2, 1);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(chain.head, head);
	cr_assert_eq(chain.nr_segs, 3);
	cr_assert_eq(chain.read_bytes, 30);
	cr_assert_eq(chain.write_bytes, 300);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(chain.segs[i].gpa, sg[i].gpa);
		cr_assert_eq(chain.segs[i].len, sg[i].len);
		cr_assert_eq(chain.segs[i].write, i == 2);
	}
	cr_assert_eq(virtq_pop(vq, &chain), 0);
	cr_assert_eq(vq->popped, 1);
}

Test(virtq, pops_in_avail_order_across_index_wrap)
{
	/* Walk the 16-bit indices around 65535 -> 0. */
	for (unsigned i = 0; i < 70000; i++) {
		int head = fake_driver_add(
			drv, 0, &(struct fake_driver_sg){0x1000, 1}, 1, 0);
		cr_assert_geq(head, 0);
		cr_assert_eq(virtq_pop(vq, &chain), 1);
		cr_assert_eq(chain.head, head);
		cr_assert_eq(virtq_push_used(vq, chain.head, 0), 0);
		cr_assert_eq(fake_driver_get_used(drv, 0, NULL), head);
	}
}

Test(virtq, accepts_chain_as_long_as_the_queue)
{
	for (uint16_t i = 0; i < QSIZE; i++)
		fake_driver_set_desc(drv, 0, i, 0x1000 + i, 1,
				     i + 1 < QSIZE ? NEXT : 0, i + 1);
	fake_driver_publish_head(drv, 0, 0);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(chain.nr_segs, QSIZE);
}

Test(virtq, rejects_descriptor_loop)
{
	fake_driver_set_desc(drv, 0, 0, 0x1000, 4, NEXT, 1);
	fake_driver_set_desc(drv, 0, 1, 0x1000, 4, NEXT, 2);
	fake_driver_set_desc(drv, 0, 2, 0x1000, 4, NEXT, 1);
	expect_malformed(0);
}

Test(virtq, rejects_chain_longer_than_queue)
{
	/* Every descriptor chained and the last pointing back into the
	 * table: QSIZE + 1 descriptors or more. */
	for (uint16_t i = 0; i < QSIZE; i++)
		fake_driver_set_desc(drv, 0, i, 0x1000, 1, NEXT,
				     (i + 1) % QSIZE);
	expect_malformed(0);
}

Test(virtq, rejects_next_index_past_queue)
{
	fake_driver_set_desc(drv, 0, 0, 0x1000, 4, NEXT, QSIZE);
	expect_malformed(0);
}

Test(virtq, rejects_head_index_past_queue)
{
	expect_malformed(QSIZE);
}

Test(virtq, rejects_avail_idx_too_far_ahead)
{
	fake_driver_set_avail_idx(drv, 0, QSIZE + 1);
	cr_assert_eq(virtq_pop(vq, &chain), -EINVAL);
	cr_assert_eq(vq->malformed, 1);
}

Test(virtq, rejects_address_past_end_of_ram)
{
	fake_driver_set_desc(drv, 0, 0, RAM - 8, 16, 0, 0);
	expect_malformed(0);
}

Test(virtq, rejects_address_at_end_of_ram)
{
	fake_driver_set_desc(drv, 0, 0, RAM, 1, 0, 0);
	expect_malformed(0);
}

Test(virtq, rejects_address_len_overflow)
{
	fake_driver_set_desc(drv, 0, 0, UINT64_MAX - 0xf, 0x20, 0, 0);
	expect_malformed(0);
}

Test(virtq, rejects_readable_after_writable)
{
	fake_driver_set_desc(drv, 0, 0, 0x1000, 4, NEXT | WRITE, 1);
	fake_driver_set_desc(drv, 0, 1, 0x2000, 4, 0, 0);
	expect_malformed(0);
}

static uint64_t indirect_table(unsigned n)
{
	uint64_t t = fake_driver_alloc(drv, 16ULL * n, 16);
	cr_assert(t);
	return t;
}

static void set_entry(uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	struct vring_desc *d = fake_driver_ptr(drv, table + 16ULL * i, 16);
	*d = (struct vring_desc){addr, len, flags, next};
}

Test(virtq, pops_indirect_table)
{
	uint64_t t = indirect_table(3);
	set_entry(t, 0, 0x1000, 8, NEXT, 1);
	set_entry(t, 1, 0x2000, 16, NEXT | WRITE, 2);
	set_entry(t, 2, 0x3000, 32, WRITE, 0);
	fake_driver_set_desc(drv, 0, 5, t, 48, INDIRECT | WRITE,
			     0); /* WRITE ignored */
	fake_driver_publish_head(drv, 0, 5);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(chain.head, 5);
	cr_assert_eq(chain.nr_segs, 3);
	cr_assert_eq(chain.read_bytes, 8);
	cr_assert_eq(chain.write_bytes, 48);
}

Test(virtq, pops_direct_descriptors_followed_by_indirect)
{
	uint64_t t = indirect_table(1);
	set_entry(t, 0, 0x3000, 32, WRITE, 0);
	fake_driver_set_desc(drv, 0, 0, 0x1000, 8, NEXT, 1);
	fake_driver_set_desc(drv, 0, 1, t, 16, INDIRECT, 0);
	fake_driver_publish_head(drv, 0, 0);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(chain.nr_segs, 2);
	cr_assert(chain.segs[1].write);
}

Test(virtq, rejects_indirect_inside_indirect)
{
	uint64_t inner = indirect_table(1), outer = indirect_table(2);
	set_entry(inner, 0, 0x1000, 8, 0, 0);
	set_entry(outer, 0, 0x1000, 8, NEXT, 1);
	set_entry(outer, 1, inner, 16, INDIRECT, 0);
	fake_driver_set_desc(drv, 0, 0, outer, 32, INDIRECT, 0);
	expect_malformed(0);
}

Test(virtq, rejects_indirect_with_next)
{
	uint64_t t = indirect_table(1);
	set_entry(t, 0, 0x1000, 8, 0, 0);
	fake_driver_set_desc(drv, 0, 0, t, 16, INDIRECT | NEXT, 1);
	fake_driver_set_desc(drv, 0, 1, 0x1000, 8, 0, 0);
	expect_malformed(0);
}

Test(virtq, rejects_indirect_table_of_bad_length)
{
	uint64_t t = indirect_table(2);
	fake_driver_set_desc(drv, 0, 0, t, 20, INDIRECT, 0);
	fake_driver_set_desc(drv, 0, 1, t, 0, INDIRECT, 0);
	fake_driver_publish_head(drv, 0, 0);
	cr_assert_eq(virtq_pop(vq, &chain), -EINVAL);
	fake_driver_set_desc(drv, 0, 0, 0x1000, 0, 0, 0); /* fix the first */
	fake_driver_publish_head(drv, 0, 1);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(virtq_pop(vq, &chain), -EINVAL);
}

Test(virtq, rejects_indirect_table_outside_ram)
{
	fake_driver_set_desc(drv, 0, 0, RAM - 16, 32, INDIRECT, 0);
	expect_malformed(0);
}

Test(virtq, rejects_indirect_loop)
{
	uint64_t t = indirect_table(2);
	set_entry(t, 0, 0x1000, 8, NEXT, 1);
	set_entry(t, 1, 0x1000, 8, NEXT, 0);
	fake_driver_set_desc(drv, 0, 0, t, 32, INDIRECT, 0);
	expect_malformed(0);
}

Test(virtq, rejects_indirect_chain_longer_than_chain_max)
{
	unsigned n = VIRTQ_CHAIN_MAX + 1;
	uint64_t t = indirect_table(n);
	for (unsigned i = 0; i < n; i++)
		set_entry(t, i, 0x1000, 1, i + 1 < n ? NEXT : 0, i + 1);
	fake_driver_set_desc(drv, 0, 0, t, 16 * n, INDIRECT, 0);
	expect_malformed(0);
}

Test(virtq, rejects_indirect_when_not_negotiated)
{
	bring_up(F(VIRTIO_F_VERSION_1));
	cr_assert_not(vq->indirect);
	uint64_t t = indirect_table(1);
	set_entry(t, 0, 0x1000, 8, 0, 0);
	fake_driver_set_desc(drv, 0, 0, t, 16, INDIRECT, 0);
	expect_malformed(0);
}

Test(virtq, chain_read_and_write_span_segments)
{
	uint8_t *ram = tb->ram;
	memcpy(ram + 0x1000, "hello ", 6);
	memcpy(ram + 0x2000, "world", 5);
	struct fake_driver_sg sg[4] = {
		{0x1000, 6}, {0x2000, 5}, {0x3000, 3}, {0x4000, 100}};
	fake_driver_add(drv, 0, sg, 2, 2);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	char buf[32] = {0};
	cr_assert_eq(virtq_chain_read(vq, &chain, 4, buf, sizeof(buf)), 7);
	cr_assert_str_eq(buf, "o world");
	cr_assert_eq(virtq_chain_write(vq, &chain, 1, "abcdef", 6), 6);
	cr_assert_eq(memcmp(ram + 0x3001, "ab", 2), 0);
	cr_assert_eq(memcmp(ram + 0x4000, "cdef", 4), 0);
	cr_assert_eq(virtq_chain_read(vq, &chain, 11, buf, 4), 0);
}

Test(virtq, push_used_publishes_element_then_index)
{
	int h0 = fake_driver_add(drv, 0, &(struct fake_driver_sg){0x1000, 4}, 1,
				 0);
	int h1 = fake_driver_add(drv, 0, &(struct fake_driver_sg){0x2000, 4}, 0,
				 1);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(virtq_push_used(vq, (uint16_t)h1, 4), 0);
	cr_assert_eq(virtq_push_used(vq, (uint16_t)h0, 0), 0);
	uint32_t len;
	cr_assert_eq(fake_driver_get_used(drv, 0, &len), h1,
		     "out of order is fine");
	cr_assert_eq(len, 4);
	cr_assert_eq(fake_driver_get_used(drv, 0, &len), h0);
	cr_assert_eq(fake_driver_get_used(drv, 0, &len), -EAGAIN);
	cr_assert_eq(virtq_push_used(vq, QSIZE, 0), -EINVAL);
}

/* Pushes one used buffer for a freshly added request. */
static void complete_one(void)
{
	fake_driver_add(drv, 0, &(struct fake_driver_sg){0x1000, 4}, 1, 0);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(virtq_push_used(vq, chain.head, 0), 0);
}

Test(virtq, event_idx_suppresses_interrupts)
{
	cr_assert(vq->event_idx);
	complete_one();
	cr_assert(virtq_needs_notify(vq), "first notification always goes");
	fake_driver_get_used(drv, 0,
			     NULL); /* used_event = 1: next one wanted */
	fake_driver_disable_cb(drv, 0);
	complete_one();
	cr_assert_not(virtq_needs_notify(vq));
	cr_assert(fake_driver_enable_cb(drv, 0), "a used buffer is pending");
	fake_driver_get_used(drv, 0, NULL);
	complete_one();
	cr_assert(virtq_needs_notify(vq));
	/* used_event still 2 (not consumed): no second interrupt. */
	complete_one();
	cr_assert_not(virtq_needs_notify(vq));
}

Test(virtq, no_interrupt_flag_suppresses_without_event_idx)
{
	bring_up(F(VIRTIO_F_VERSION_1));
	cr_assert_not(vq->event_idx);
	complete_one();
	cr_assert(virtq_needs_notify(vq));
	fake_driver_disable_cb(drv, 0);
	complete_one();
	cr_assert_not(virtq_needs_notify(vq));
	fake_driver_enable_cb(drv, 0);
	complete_one();
	cr_assert(virtq_needs_notify(vq));
}

Test(virtq, event_idx_suppression_reaches_the_irq_line)
{
	dev->manual = false;
	int head = fake_driver_add(drv, 0, &(struct fake_driver_sg){0x1000, 4},
				   0, 1);
	fake_driver_kick(drv, 0);
	cr_assert_eq(tb->irqs, 1);
	fake_driver_disable_cb(drv, 0);
	fake_driver_add(drv, 0, &(struct fake_driver_sg){0x2000, 4}, 0, 1);
	fake_driver_kick(drv, 0);
	cr_assert_eq(tb->irqs, 1, "driver asked for no interrupt");
	cr_assert_eq(fake_driver_get_used(drv, 0, NULL), head);
	struct virtio_mmio_metrics m;
	virtio_mmio_get_metrics(&tb->t, &m);
	cr_assert_eq(m.irqs_suppressed, 1);
}

Test(virtq, empty_pop_rearms_avail_event)
{
	fake_driver_add(drv, 0, &(struct fake_driver_sg){0x1000, 4}, 1, 0);
	cr_assert(fake_driver_kick(drv, 0));
	fake_driver_add(drv, 0, &(struct fake_driver_sg){0x1000, 4}, 1, 0);
	cr_assert_not(fake_driver_kick(drv, 0),
		      "device has not asked again yet");
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	cr_assert_eq(virtq_pop(vq, &chain), 0);
	fake_driver_add(drv, 0, &(struct fake_driver_sg){0x1000, 4}, 1, 0);
	cr_assert(fake_driver_kick(drv, 0),
		  "empty pop asked for the next kick");
}

Test(virtq, rings_are_where_the_driver_placed_them)
{
	struct virtq_range r[VIRTQ_NR_RINGS];
	virtq_rings(vq, r);
	cr_assert_eq(r[0].gpa, drv->q[0].desc_gpa);
	cr_assert_eq(r[0].len, 16 * QSIZE);
	/* flags, idx, ring[QSIZE], used_event (2.7.6). */
	cr_assert_eq(r[1].gpa, drv->q[0].avail_gpa);
	cr_assert_eq(r[1].len, 2 + 2 + 2 * QSIZE + 2);
	/* flags, idx, ring[QSIZE] of 8-byte elements, avail_event (2.7.8). */
	cr_assert_eq(r[2].gpa, drv->q[0].used_gpa);
	cr_assert_eq(r[2].len, 2 + 2 + 8 * QSIZE + 2);
}

Test(virtq, not_ready_queue_is_untouched)
{
	fake_driver_add(drv, 0, &(struct fake_driver_sg){0x1000, 4}, 1, 0);
	vq->ready = false;
	cr_assert_eq(virtq_pop(vq, &chain), 0);
	cr_assert_eq(virtq_push_used(vq, 0, 0), -EINVAL);
	cr_assert_not(virtq_needs_notify(vq));
}

Test(virtq, activate_validates_size_and_rings)
{
	struct virtq q = {.size = 8, .desc_gpa = 0x1000, .avail_gpa = 0x2000,
			  .used_gpa = 0x3000};
	cr_assert_eq(virtq_activate(&q, &tb->mem, 256, 0), 0);
	cr_assert(q.ready);
	struct virtq bad = q;
	bad.size = 6;
	cr_assert_eq(virtq_activate(&bad, &tb->mem, 256, 0), -EINVAL);
	cr_assert_not(bad.ready);
	bad = q;
	bad.size = 512;
	cr_assert_eq(virtq_activate(&bad, &tb->mem, 256, 0), -EINVAL);
	bad = q;
	bad.desc_gpa = 0x1008;
	cr_assert_eq(virtq_activate(&bad, &tb->mem, 256, 0), -EINVAL);
	bad = q;
	bad.avail_gpa = 0x2001;
	cr_assert_eq(virtq_activate(&bad, &tb->mem, 256, 0), -EINVAL);
	bad = q;
	bad.used_gpa = 0x3002;
	cr_assert_eq(virtq_activate(&bad, &tb->mem, 256, 0), -EINVAL);
	bad = q;
	bad.desc_gpa = RAM - 64; /* 8 descriptors need 128 bytes */
	cr_assert_eq(virtq_activate(&bad, &tb->mem, 256, 0), -EINVAL);
	bad = q;
	bad.avail_gpa = UINT64_MAX - 1;
	cr_assert_eq(virtq_activate(&bad, &tb->mem, 256, 0), -EINVAL);
}

Test(virtq, needs_notify_repeats_its_answer_until_next_push)
{
	complete_one();
	cr_assert(virtq_needs_notify(vq));
	cr_assert(virtq_needs_notify(vq), "a second look must not lose it");
	fake_driver_get_used(drv, 0, NULL);
	fake_driver_disable_cb(drv, 0);
	complete_one();
	cr_assert_not(virtq_needs_notify(vq));
	cr_assert_not(virtq_needs_notify(vq));
	/* The device checks, then the transport checks again: one irq. */
	fake_driver_enable_cb(drv, 0);
	fake_driver_get_used(drv, 0, NULL); /* used_event = 2 */
	complete_one();
	if (virtq_needs_notify(vq))
		dev->host->notify_queue(dev->host->t, 0);
	cr_assert_eq(tb->irqs, 1);
}

/* The hang dump's line: chains the driver made available and the device
 * has not popped are counted. */
Test(virtq, describes_waiting_chains_for_a_dump)
{
	struct fake_driver_sg sg = {0x1000, 10};
	fake_driver_add(drv, 0, &sg, 1, 0);
	fake_driver_add(drv, 0, &sg, 1, 0);
	char line[160];
	virtq_describe(vq, line, sizeof(line));
	cr_assert(strstr(line, "avail 2 next 0 (2 waiting)"), "%s", line);
	cr_assert_eq(virtq_pop(vq, &chain), 1);
	virtq_describe(vq, line, sizeof(line));
	cr_assert(strstr(line, "(1 waiting)"), "%s", line);
	cr_assert_eq(virtq_push_used(vq, chain.head, 0), 0);
	virtq_describe(vq, line, sizeof(line));
	cr_assert(strstr(line, "used 1 (in the ring 1)"), "%s", line);
}
