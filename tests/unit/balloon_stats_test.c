/* virtio-balloon statistics queue: the held buffer, ticks, and the parsing
 * of every tag Linux 6.x sends. */
#include "fakes/fake_balloon_driver.h"

#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <string.h>

#define F(b) FBD_BIT(b)

static struct fbd_bed *bed;
static struct fbd *drv;

static void teardown(void)
{
	fbd_bed_free(bed);
	bed = NULL;
}

TestSuite(balloon_stats, .fini = teardown);

static void up_opts(const struct fbd_opts *o)
{
	struct balloon_config cfg = {.stats_polling_interval_s = 1};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	drv = &bed->drv;
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, o), 0);
}

static void up(void)
{
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES};
	up_opts(&o);
}

static struct balloon_stats stats(void)
{
	struct balloon_stats s;
	cr_assert_eq(balloon_get_stats(&bed->b, &s), 0);
	return s;
}

Test(balloon_stats, first_buffer_is_parsed_and_held_until_a_tick)
{
	up();
	struct balloon_stats s = stats();
	cr_assert(s.valid);
	cr_assert_eq(s.updates, 1);
	cr_assert_eq(s.present, 0xffff);
	for (unsigned t = 0; t < BALLOON_STATS_NR; t++)
		cr_assert_eq(s.val[t], 1000ull * (t + 1) + 7, "tag %u", t);
	/* Held, not used: the driver has nothing to refill yet. */
	cr_assert_eq(fbd_stats_request(drv), -EAGAIN);
	cr_assert_gt(s.last_update_realtime.tv_sec, 0);
}

Test(balloon_stats, tick_hands_the_buffer_back_and_refill_updates_values)
{
	up();
	uint64_t t0 = stats().last_update_monotonic_ns;
	fbd_set_stat(drv, VIRTIO_BALLOON_S_MEMFREE, 123ULL << 20);
	fbd_set_stat(drv, VIRTIO_BALLOON_S_MEMTOT, 512ULL << 20);
	fbd_set_stat(drv, 15 /* DIRECT_RECLAIM */, 4096);
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
	cr_assert_eq(fbd_stats_request(drv), 0);
	struct balloon_stats s = stats();
	cr_assert_eq(s.updates, 2);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 123ULL << 20);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMTOT], 512ULL << 20);
	cr_assert_eq(s.val[15], 4096);
	cr_assert_geq(s.last_update_monotonic_ns, t0);
	struct balloon_metrics m;
	balloon_get_metrics(&bed->b, &m);
	cr_assert_eq(m.stats_updates, 2);
}

Test(balloon_stats, tick_without_a_returned_buffer_is_eagain)
{
	up();
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
	/* The guest has not refilled yet. */
	cr_assert_eq(balloon_stats_tick(&bed->b), -EAGAIN);
	cr_assert_eq(fbd_stats_request(drv), 0);
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
}

Test(balloon_stats, tick_needs_an_active_stats_queue)
{
	struct balloon_config cfg = {0};
	bed = fbd_bed_new(&cfg, NULL);
	cr_assert(bed);
	cr_assert_eq(balloon_stats_tick(&bed->b), -ENODEV);
	struct balloon_stats s;
	cr_assert_eq(balloon_get_stats(&bed->b, &s), -ENODATA);
	const struct fbd_opts o = {
		.features = FBD_LINUX_FEATURES & ~F(VIRTIO_BALLOON_F_STATS_VQ)};
	cr_assert_eq(fbd_probe(&bed->drv, &bed->tb->drv, &o), 0);
	cr_assert_eq(balloon_stats_tick(&bed->b), -ENODEV);
	fake_driver_reset(&bed->tb->drv);
	cr_assert_eq(balloon_stats_tick(&bed->b), -ENODEV);
}

/* Sends one raw stats buffer after taking the held one back. */
static void send_raw_stats(const uint8_t *buf, uint32_t len)
{
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
	cr_assert_geq(fbd_get_used(drv, BALLOON_Q_STATS, NULL), 0);
	uint64_t gpa = fake_driver_alloc(&bed->tb->drv, len ? len : 1, 8);
	memcpy(fake_driver_ptr(&bed->tb->drv, gpa, len ? len : 1), buf, len);
	struct fake_driver_sg sg = {gpa, len};
	cr_assert_geq(fbd_send_raw(drv, BALLOON_Q_STATS, &sg, 1), 0);
}

static unsigned put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	tag = htole16(tag);
	val = htole64(val);
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
	return 10;
}

Test(balloon_stats, unknown_tags_and_partial_entries_are_ignored)
{
	up();
	uint8_t buf[64];
	unsigned n = 0;
	n += put_stat(buf + n, 16, 1);
	n += put_stat(buf + n, VIRTIO_BALLOON_S_AVAIL, 77);
	n += put_stat(buf + n, 0xffff, 2);
	n += put_stat(buf + n, VIRTIO_BALLOON_S_SWAP_IN, 5);
	buf[n++] = 4; /* a stray partial entry: tag MEMFREE, no value */
	buf[n++] = 0;
	send_raw_stats(buf, n);
	struct balloon_stats s = stats();
	cr_assert_eq(s.present, (1u << VIRTIO_BALLOON_S_AVAIL) |
					(1u << VIRTIO_BALLOON_S_SWAP_IN));
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_AVAIL], 77);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_SWAP_IN], 5);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 0);
}

Test(balloon_stats, oversized_and_split_buffers_are_parsed_safely)
{
	up();
	/* 300 entries split over two descriptors; only a bounded prefix is
	 * read, the last value of a repeated tag wins. */
	static uint8_t buf[3000];
	for (unsigned i = 0; i < 300; i++)
		put_stat(buf + 10 * i, VIRTIO_BALLOON_S_MAJFLT, i);
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
	cr_assert_geq(fbd_get_used(drv, BALLOON_Q_STATS, NULL), 0);
	uint64_t gpa = fake_driver_alloc(&bed->tb->drv, sizeof(buf), 8);
	memcpy(fake_driver_ptr(&bed->tb->drv, gpa, sizeof(buf)), buf,
	       sizeof(buf));
	struct fake_driver_sg sg[2] = {{gpa, 13}, {gpa + 13, sizeof(buf) - 13}};
	cr_assert_geq(fbd_send_raw(drv, BALLOON_Q_STATS, sg, 2), 0);
	struct balloon_stats s = stats();
	cr_assert_eq(s.present, 1u << VIRTIO_BALLOON_S_MAJFLT);
	cr_assert_lt(s.val[VIRTIO_BALLOON_S_MAJFLT], 300);
	cr_assert_gt(s.val[VIRTIO_BALLOON_S_MAJFLT], 0);
	/* An empty buffer is held but updates nothing. */
	send_raw_stats(buf, 0);
	cr_assert_eq(stats().updates, 2);
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
}

Test(balloon_stats, a_second_buffer_returns_the_first)
{
	up();
	/* Against the spec the driver adds another buffer: the device gives
	 * the older one back instead of holding two. */
	uint8_t buf[10];
	put_stat(buf, VIRTIO_BALLOON_S_CACHES, 99);
	uint64_t gpa = fake_driver_alloc(&bed->tb->drv, 10, 8);
	memcpy(fake_driver_ptr(&bed->tb->drv, gpa, 10), buf, 10);
	struct fake_driver_sg sg = {gpa, 10};
	int head = fbd_send_raw(drv, BALLOON_Q_STATS, &sg, 1);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_STATS, NULL), drv->stats_head);
	cr_assert_eq(stats().val[VIRTIO_BALLOON_S_CACHES], 99);
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_STATS, NULL), head);
}

Test(balloon_stats, reset_drops_the_held_buffer_but_keeps_the_values)
{
	up();
	fake_driver_reset(&bed->tb->drv);
	struct balloon_stats s = stats();
	cr_assert_eq(s.updates, 1);
	/* A new driver primes a new buffer, parsed at DRIVER_OK. */
	fbd_destroy(drv);
	const struct fbd_opts o = {.features = FBD_LINUX_FEATURES};
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, &o), 0);
	cr_assert_eq(stats().updates, 2);
	cr_assert_eq(balloon_stats_tick(&bed->b), 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_STATS, NULL), drv->stats_head);
}
