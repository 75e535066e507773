/* Virtqueue round trips per second, host side only: the fake driver adds a
 * buffer, the device side pops it and pushes it used, the driver reaps it.
 * "ring" rows call virtq_pop/virtq_push_used directly; "mmio" rows go through
 * the transport (QueueNotify write -> echo device -> interrupt -> ACK), as a
 * guest kick would without the KVM exit. Prints a table; not pass/fail.
 * Usage: build/bench/virtq_bench [seconds per row, default 0.3] */
#include "fakes/fake_vdev.c"
#include "fakes/fake_driver.c"
#include "fakes/virtio_testbed.c"

#include <core/log.h>

#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define QSIZE 256

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct bench {
	struct fake_vdev dev;
	struct virtio_testbed *tb;
	struct virtq *vq;
	uint64_t buf;
};

static int bench_up(struct bench *b, uint64_t features)
{
	fake_vdev_init(&b->dev, 42, 1, QSIZE);
	b->tb = virtio_testbed_new(&b->dev.vdev, 16ULL << 20);
	if (!b->tb)
		return -1;
	struct fake_driver *d = &b->tb->drv;
	if (fake_driver_negotiate(d, features) ||
	    fake_driver_setup_queue(d, 0, QSIZE))
		return -1;
	fake_driver_set_driver_ok(d);
	b->vq = &b->dev.queues[0];
	b->buf = fake_driver_alloc(d, 4096, 4096);
	return b->buf ? 0 : -1;
}

/* One batch: add n requests of segs segments, then complete them. */
static int batch_ring(struct bench *b, unsigned n, unsigned segs,
		      bool indirect)
{
	struct fake_driver *d = &b->tb->drv;
	struct fake_driver_sg sg[4];
	for (unsigned i = 0; i < segs; i++)
		sg[i] = (struct fake_driver_sg){b->buf + 512 * i, 512};
	for (unsigned i = 0; i < n; i++) {
		int h = indirect ? fake_driver_add_indirect(d, 0, sg, segs, 0)
				 : fake_driver_add(d, 0, sg, segs, 0);
		if (h < 0)
			return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (virtq_pop(b->vq, &b->dev.chain) != 1 ||
		    virtq_push_used(b->vq, b->dev.chain.head, 0))
			return -1;
	}
	if (virtq_needs_notify(b->vq))
		b->tb->irqs++;
	for (unsigned i = 0; i < n; i++)
		if (fake_driver_get_used(d, 0, NULL) < 0)
			return -1;
	return 0;
}

/* One batch through MMIO: add n, one kick (echo device runs inline), ACK,
 * reap. */
static int batch_mmio(struct bench *b, unsigned n, unsigned segs,
		      bool indirect)
{
	struct fake_driver *d = &b->tb->drv;
	struct fake_driver_sg sg[4];
	for (unsigned i = 0; i < segs; i++)
		sg[i] = (struct fake_driver_sg){b->buf + 512 * i, 512};
	for (unsigned i = 0; i < n; i++) {
		int h = indirect ? fake_driver_add_indirect(d, 0, sg, segs, 0)
				 : fake_driver_add(d, 0, sg, segs, 0);
		if (h < 0)
			return -1;
	}
	fake_driver_kick(d, 0);
	fake_driver_ack_irq(d);
	for (unsigned i = 0; i < n; i++)
		if (fake_driver_get_used(d, 0, NULL) < 0)
			return -1;
	return 0;
}

struct row {
	const char *path;
	uint64_t features;
	unsigned batch, segs;
	bool indirect;
};

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.3;
	const uint64_t v1 = 1ULL << VIRTIO_F_VERSION_1;
	const uint64_t all = ~0ULL;
	const struct row rows[] = {
		{"ring", all, 1, 1, false},   {"ring", all, 16, 1, false},
		{"ring", all, 128, 1, false}, {"ring", all, 16, 4, false},
		{"ring", all, 16, 4, true},   {"mmio", all, 1, 1, false},
		{"mmio", v1, 1, 1, false},    {"mmio", all, 16, 1, false},
		{"mmio", all, 128, 1, false}, {"mmio", all, 16, 4, true},
	};

	log_set_level(LOG_ERROR);
	printf("command: build/bench/virtq_bench %.2f  (queue size %d)\n\n",
	       secs, QSIZE);
	printf("| path | event idx | batch | segs/req | indirect | round trips/s "
	       "| ns/round trip |\n");
	printf("|------|-----------|-------|----------|----------|--------------"
	       "-|---------------|\n");
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		const struct row *w = &rows[r];
		struct bench *b = calloc(1, sizeof(*b));
		if (!b || bench_up(b, w->features)) {
			fprintf(stderr, "virtq_bench: setup failed\n");
			return 1;
		}
		b->dev.manual = false;
		uint64_t trips = 0;
		double start = now_s(), end;
		do {
			for (int k = 0; k < 64; k++) {
				int err = w->path[0] == 'r'
						  ? batch_ring(b, w->batch, w->segs,
							       w->indirect)
						  : batch_mmio(b, w->batch, w->segs,
							       w->indirect);
				if (err) {
					fprintf(stderr, "virtq_bench: row %zu "
							"failed\n", r);
					return 1;
				}
				trips += w->batch;
			}
			end = now_s();
		} while (end - start < secs);
		double rate = trips / (end - start);
		printf("| %s | %s | %5u | %8u | %8s | %13.0f | %13.1f |\n",
		       w->path,
		       (w->features >> VIRTIO_RING_F_EVENT_IDX) & 1 ? "yes" : "no",
		       w->batch, w->segs, w->indirect ? "yes" : "no", rate,
		       1e9 / rate);
		virtio_testbed_free(b->tb);
		free(b);
	}
	return 0;
}
