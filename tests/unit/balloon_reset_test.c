/* virtio-balloon under resets and hostile drivers: orphaned requests, the
 * reset that waits for discards, caps, malformed rings, inhibit. */
#include "fakes/balloon_fixture.h"

#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

TestSuite(balloon_reset, .fini = balloon_fixture_teardown);

/* ---- reset and hostile drivers ---- */

/* The discard engine's thread of control: completes what is recorded after
 * delay_ms, as the main loop would while a vCPU thread resets the device. */
struct later {
	struct fbd_bed *bed;
	unsigned delay_ms;
};

static void *complete_later(void *arg)
{
	struct later *l = arg;
	usleep(l->delay_ms * 1000);
	struct virtio_mmio *t = &l->bed->tb->t;
	pthread_mutex_lock(&t->lock);
	recording_discard_complete_all(&l->bed->rd, 0);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Resets the device as a vCPU would while `other` runs; the reset's ms. */
static long reset_beside(void *(*other)(void *), void *arg)
{
	pthread_t th;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(pthread_create(&th, NULL, other, arg), 0);
	fake_driver_reset(&bed->tb->drv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Checked before joining: the reset itself waited for the discard. */
	cr_assert_eq(recording_discard_pending(&bed->rd), 0);
	pthread_join(th, NULL);
	return (t1.tv_sec - t0.tv_sec) * 1000 +
	       (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

Test(balloon_reset, reset_with_discards_in_flight_orphans_them)
{
	up();
	uint32_t pfn = 0x400;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(recording_discard_pending(&bed->rd), 1);
	struct later l = {bed, 50};
	reset_beside(complete_later, &l);
	cr_assert_eq(metrics().orphaned_requests, 1);

	/* A new driver brings the device up with fresh rings. */
	fbd_destroy(drv);
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, &linux_opts), 0);
	/* The old request's completion wrote nothing into the new ring. */
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), -EAGAIN);
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
}

/* A driver may reuse every page once its reset returns: the reset must not
 * return while a discard could still zero one of them. */
Test(balloon_reset, reset_waits_for_discards_in_flight)
{
	up();
	uint32_t pfn = 0x400;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(recording_discard_pending(&bed->rd), 1);
	struct later l = {bed, 100};
	long ms = reset_beside(complete_later, &l);
	cr_assert_geq(ms, 90, "reset returned after %ld ms", ms);
}

/* Issue 12: the wait had a 2 s bound, after which a late discard zeroed
 * pages the guest owned again. A discard the kernel has can take longer
 * (a stalled io-wq worker): the reset still waits. */
Test(balloon_reset, reset_never_returns_while_a_submitted_discard_can_run,
     .timeout = 20)
{
	up();
	uint32_t pfn = 0x400;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(recording_discard_pending(&bed->rd), 1);
	struct later l = {bed, 2600};
	long ms = reset_beside(complete_later, &l);
	cr_assert_geq(ms, 2500, "reset returned after %ld ms, discard pending",
		      ms);
	cr_assert_eq(balloon_discards_in_flight(&bed->b), 0);
}

/* The main loop beside a resetting vCPU: runs the balloon's pending work
 * (where the reset's cancel happens) until stop is set. */
struct main_loop {
	struct fbd_bed *bed;
	atomic_bool stop;
	unsigned runs;
};

static void *main_loop(void *arg)
{
	struct main_loop *m = arg;
	struct pollfd p = {.fd = balloon_pending_fd(&m->bed->b), .events = POLLIN};
	while (!atomic_load(&m->stop)) {
		if (poll(&p, 1, 10) == 1) {
			balloon_run_pending(&m->bed->b);
			m->runs++;
		}
	}
	return NULL;
}

/* What the backend has not handed to the kernel is cancelled, not waited
 * for and not run: the pages stay populated and the guest's. */
Test(balloon_reset, reset_cancels_discards_not_yet_submitted, .timeout = 10)
{
	up();
	bed->rd.hold = true;
	bed->rd.zero_fill = true;
	uint32_t pfn = 0x400;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	cr_assert_eq(bed->rd.nr, 1, "queued");
	cr_assert_eq(recording_discard_pending(&bed->rd), 0, "not submitted");
	cr_assert_eq(balloon_discards_in_flight(&bed->b), 1);

	struct main_loop m = {.bed = bed};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, main_loop, &m), 0);
	fake_driver_reset(&bed->tb->drv);
	atomic_store(&m.stop, true);
	pthread_join(th, NULL);

	cr_assert_eq(bed->rd.cancels, 1);
	cr_assert_eq(bed->rd.nr, 0, "the range never ran");
	cr_assert_eq(balloon_discards_in_flight(&bed->b), 0);
	cr_assert_eq(metrics().orphaned_requests, 1);
	cr_assert_eq(metrics().discard_errors, 0, "a cancel is not an error");
}

/* Shutdown: the vCPUs are joined, and the guest never runs again, so a
 * reset waiting for a discard may return. */
static void *stop_later(void *arg)
{
	usleep(100 * 1000);
	balloon_stop(arg);
	return NULL;
}

Test(balloon_reset, stop_releases_a_reset_waiting_for_discards, .timeout = 10)
{
	up();
	uint32_t pfn = 0x400;
	fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, stop_later, &bed->b), 0);
	fake_driver_reset(&bed->tb->drv);
	pthread_join(th, NULL);
	cr_assert_eq(recording_discard_pending(&bed->rd), 1,
		     "returned on stop, not on completion");
}

Test(balloon_reset, second_activation_orphans_requests_in_flight)
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

/* Queues n deflate requests of one page each (no kick). */
static void add_deflates(unsigned n)
{
	uint32_t pfn = 0x400;
	uint64_t gpa = fbd_put_pfns(drv, &pfn, 1);
	struct fake_driver_sg sg = {gpa, 4};
	for (unsigned i = 0; i < n; i++)
		cr_assert_geq(fake_driver_add(&bed->tb->drv, 1, &sg, 1, 0), 0);
}

/* A driver that queues far more than Linux does gets at most
 * BALLOON_CHAINS_PER_RUN chains per kick; the rest run from the loop. */
Test(balloon_reset, work_per_kick_is_capped_and_resumed_later)
{
	up();
	struct fake_driver *d = &bed->tb->drv;
	add_deflates(100);
	fake_driver_notify(d, 1);
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

/* Runs the balloon's deferred work if the main loop would (its eventfd is
 * readable); true if it did. */
static bool run_pending_if_due(void)
{
	struct pollfd p = {.fd = balloon_pending_fd(&bed->b), .events = POLLIN};
	if (poll(&p, 1, 0) != 1)
		return false;
	balloon_run_pending(&bed->b);
	return true;
}

/* Exactly BALLOON_CHAINS_PER_RUN chains in one kick: the device stops at
 * the cap just as the ring runs empty. It must still re-arm avail_event
 * (event idx), or the driver's next kick is suppressed and the queue
 * stalls: a free page hint run lost its STOP this way, and with it every
 * later run (the guest spun on a full ring). */
Test(balloon_reset, a_run_ending_at_the_cap_still_asks_for_the_next_kick)
{
	up();
	struct fake_driver *d = &bed->tb->drv;
	for (unsigned round = 0; round < 3; round++) {
		add_deflates(BALLOON_CHAINS_PER_RUN);
		cr_assert(fake_driver_kick(d, 1),
			  "round %u: the device asked for no kick", round);
		while (run_pending_if_due())
			;
		unsigned used = 0;
		while (fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL) >= 0)
			used++;
		cr_assert_eq(used, BALLOON_CHAINS_PER_RUN, "round %u", round);
	}
	add_deflates(1);
	cr_assert(fake_driver_kick(d, 1),
		  "a chain after a capped run: the device asked for no kick");
	while (run_pending_if_due())
		;
	cr_assert_geq(fbd_get_used(drv, BALLOON_Q_DEFLATE, NULL), 0);
}

Test(balloon_reset, requests_waiting_for_discards_are_bounded)
{
	up();
	struct fake_driver *d = &bed->tb->drv;
	uint64_t gpa[100];
	for (unsigned i = 0; i < 100; i++) {
		uint32_t pfn = 0x400 + i;
		gpa[i] = fbd_put_pfns(drv, &pfn, 1);
	}
	unsigned sent = 0, used = 0;
	for (unsigned i = 0; i < 100; i++) {
		struct fake_driver_sg sg = {gpa[i], 4};
		cr_assert_geq(fake_driver_add(d, 0, &sg, 1, 0), 0);
		fake_driver_notify(d, 0);
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

Test(balloon_reset, malformed_ring_asks_for_reset_and_discards_nothing)
{
	up();
	struct fake_driver *d = &bed->tb->drv;
	/* A descriptor pointing outside guest RAM. */
	fake_driver_set_desc(d, 0, 0, 0x7f0000000000ULL, 1024, 0, 0);
	fake_driver_publish_head(d, 0, 0);
	fake_driver_notify(d, 0);
	cr_assert(fake_driver_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(bed->rd.nr, 0);
	/* After a reset the device works again. */
	fbd_destroy(drv);
	cr_assert_eq(fbd_probe(drv, d, &linux_opts), 0);
	uint32_t pfn = 0x400;
	int head = fbd_send_pfns(drv, BALLOON_Q_INFLATE, &pfn, 1);
	recording_discard_complete_all(&bed->rd, 0);
	cr_assert_eq(fbd_get_used(drv, BALLOON_Q_INFLATE, NULL), head);
}

Test(balloon_reset, works_without_a_discard_backend)
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
Test(balloon_reset, inhibited_discard_acknowledges_without_discarding)
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
