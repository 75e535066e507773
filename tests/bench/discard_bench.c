/* Discard benchmark, two measurements:
 * (a) throughput discarding 1 GiB of touched anonymous memory, GiB/s, per
 *     method; plus the sweeps that set the engine's policy (op size,
 *     inline threshold).
 * (b) main-loop responsiveness: an epoll loop with a 1 ms timerfd and the
 *     engine's eventfd while 4 GiB are discarded; worst timer delay.
 * Prints markdown tables. Usage: build/bench/discard_bench [--quick]
 * [--policy]; --policy adds the sweeps that chose the engine's defaults. */
#include "memory/discard_engine.h"

#include <core/gmem.h>

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ULL
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static int reps = 3;
static bool policy; /* --policy: the sweeps behind discard_engine.c's defaults */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Populates without a fault per page where the kernel can (5.14+). */
static void touch(uint8_t *p, uint64_t len)
{
	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		return;
	for (uint64_t i = 0; i < len; i += PAGE)
		p[i] = 1;
}

static uint64_t rss_bytes(void)
{
	unsigned long size, rss;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	if (f)
		fclose(f);
	return rss * PAGE;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "discard_bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* ---- methods: each discards [p, p+len) and returns when it is done ---- */

static void madvise_each(uint8_t *p, uint64_t len, uint64_t step)
{
	for (uint64_t off = 0; off < len; off += step)
		if (madvise(p + off, step, MADV_DONTNEED))
			die("madvise", errno);
}

static void uring_each(uint8_t *p, uint64_t len, uint64_t step)
{
	struct io_uring ring;
	uint64_t n = len / step, sent = 0, got = 0;
	int err = io_uring_queue_init(256, &ring, 0);

	if (err)
		die("io_uring_queue_init", -err);
	while (got < n) {
		while (sent < n && sent - got < 256) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				break;
			io_uring_prep_madvise(sqe, p + sent * step, (off_t)step,
					      MADV_DONTNEED);
			sent++;
		}
		io_uring_submit(&ring);
		struct io_uring_cqe *cqe;
		if ((err = io_uring_wait_cqe(&ring, &cqe)))
			die("io_uring_wait_cqe", -err);
		if (cqe->res < 0)
			die("io_uring madvise", -cqe->res);
		io_uring_cqe_seen(&ring, cqe);
		got++;
	}
	io_uring_queue_exit(&ring);
}

static int engine_pending;

static void bench_done(void *cookie, int err)
{
	(void)cookie;
	if (err)
		die("engine discard", -err);
	engine_pending--;
}

static void engine_wait(struct discard_engine *e)
{
	struct discard *d = discard_engine_iface(e);
	int fd = discard_engine_eventfd(e);

	while (engine_pending > 0) {
		if (fd >= 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			poll(&pfd, 1, 1000);
		}
		d->ops->reap(d->be);
	}
}

/* The engine fed `step` ranges, one cookie per 1 MiB (a balloon request's
 * worth), all in one submit. */
static void engine_run(struct discard_engine *e, const struct gmem_region *r,
		       uint64_t step)
{
	struct discard *d = discard_engine_iface(e);

	for (uint64_t off = 0; off < r->len; off += step) {
		int err = d->ops->queue(d->be, r, off, step,
					(void *)(uintptr_t)(off / MIB));
		if (err)
			die("queue", -err);
		if (off % MIB == 0)
			engine_pending++;
	}
	d->ops->submit(d->be);
	engine_wait(e);
}

/* workers: 0 keeps the shipped cap, ~0u lifts it. */
static struct discard_engine *engine_new_workers(enum discard_engine_kind kind,
						 uint64_t inline_max,
						 uint64_t chunk, unsigned workers)
{
	struct discard_engine_opts o;
	struct discard_engine *e;

	discard_engine_default_opts(&o);
	o.kind = kind;
	if (workers)
		o.ring_workers = workers == ~0u ? 0 : workers;
	if (inline_max != UINT64_MAX)
		o.inline_max_bytes = inline_max;
	if (chunk)
		o.chunk_bytes = chunk;
	int err = discard_engine_create(&e, &o, bench_done);
	if (err)
		die("discard_engine_create", -err);
	return e;
}

static struct discard_engine *engine_new(enum discard_engine_kind kind,
					 uint64_t inline_max, uint64_t chunk)
{
	return engine_new_workers(kind, inline_max, chunk, 0);
}

enum method {
	M_PAGE, M_1M, M_WHOLE, M_URING_1M, M_URING_PAGE, M_ENGINE_1M,
	M_ENGINE_PAGE, M_ENGINE_SYNC, M_RING_CHUNK,
};

struct run {
	enum method m;
	uint64_t chunk;
	unsigned workers; /* as engine_new_workers() */
};

static void run_method(const struct run *run, const struct gmem_region *r)
{
	uint8_t *p = r->hva;
	struct discard_engine *e;

	switch (run->m) {
	case M_PAGE: madvise_each(p, r->len, PAGE); break;
	case M_1M: madvise_each(p, r->len, MIB); break;
	case M_WHOLE: madvise_each(p, r->len, r->len); break;
	case M_URING_1M: uring_each(p, r->len, MIB); break;
	case M_URING_PAGE: uring_each(p, r->len, PAGE); break;
	case M_ENGINE_1M:
	case M_ENGINE_PAGE:
	case M_ENGINE_SYNC:
	case M_RING_CHUNK:
		e = run->m == M_ENGINE_SYNC ? engine_new(DISCARD_ENGINE_SYNC, UINT64_MAX, 0)
		    : run->m == M_RING_CHUNK ? engine_new_workers(DISCARD_ENGINE_URING, 0,
								  run->chunk, run->workers)
					     : engine_new(DISCARD_ENGINE_AUTO, UINT64_MAX, 0);
		engine_run(e, r, run->m == M_ENGINE_PAGE ? PAGE : MIB);
		discard_engine_destroy(e);
		break;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* GiB/s of one run on freshly touched memory. */
static double measure_once(const struct run *run, const struct gmem_region *r)
{
	touch(r->hva, r->len);
	uint64_t before = rss_bytes();
	double t0 = now_s();
	run_method(run, r);
	double t = now_s() - t0;
	if (before - rss_bytes() < r->len - r->len / 64) {
		fprintf(stderr, "discard_bench: method %d freed only %llu MiB\n",
			run->m, (unsigned long long)((before - rss_bytes()) >> 20));
		exit(1);
	}
	return (double)r->len / GIB / t;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

/* Median GiB/s over reps runs. */
static double measure(const struct run *run, const struct gmem_region *r)
{
	double v[16];

	for (int i = 0; i < reps; i++)
		v[i] = measure_once(run, r);
	return median(v, reps);
}

static void bench_throughput(const struct gmem_region *r,
			     struct discard_engine *probe)
{
	static const struct { const char *name; struct run run; } cols[] = {
		{ "madvise per 4 KiB", { M_PAGE, 0, 0 } },
		{ "madvise per 1 MiB", { M_1M, 0, 0 } },
		{ "madvise whole range", { M_WHOLE, 0, 0 } },
		{ "io_uring, 1 MiB ops", { M_URING_1M, 0, 0 } },
		{ "io_uring, 4 KiB ops", { M_URING_PAGE, 0, 0 } },
		{ "engine as shipped, 1 MiB ranges", { M_ENGINE_1M, 0, 0 } },
		{ "engine as shipped, 4 KiB ranges", { M_ENGINE_PAGE, 0, 0 } },
		{ "engine, sync backend", { M_ENGINE_SYNC, 0, 0 } },
	};
	double gib[sizeof(cols) / sizeof(cols[0])];

	printf("\n### (a) Discarding 1 GiB of touched anonymous memory, GiB/s (median of %d; per-4 KiB columns: 1 run)\n\n",
	       reps);
	enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
	double v[NCOLS][16];
	int n[NCOLS] = { 0 };

	/* Round robin, so load from other processes spreads over all columns;
	 * the per-page methods are slow and steady: one run. */
	for (int k = 0; k < reps; k++)
		for (size_t i = 0; i < NCOLS; i++)
			if (k == 0 || (cols[i].run.m != M_PAGE &&
				       cols[i].run.m != M_URING_PAGE))
				v[i][n[i]++] = measure_once(&cols[i].run, r);
	for (size_t i = 0; i < NCOLS; i++)
		gib[i] = median(v[i], n[i]);
	printf("|");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		printf(" %s |", cols[i].name);
	printf("\n|");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		printf("---|");
	printf("\n|");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		printf(" %.2f |", gib[i]);
	printf("\n\nengine backend: %s\n", discard_engine_name(probe));
}

/* Policy sweep 1: the ring's op size and io-wq worker cap, 1 GiB, ring
 * only. One run per cell to keep the bench short. */
static void bench_chunks(const struct gmem_region *r)
{
	static const uint64_t chunks[] = { 2 * MIB, 4 * MIB, 16 * MIB, 64 * MIB,
					   256 * MIB };
	static const struct { const char *name; unsigned workers; } w[] = {
		{ "1 worker (shipped)", 1 }, { "2 workers", 2 },
		{ "kernel default", ~0u },
	};
	int saved = reps;

	reps = 1;
	printf("\n### Policy: io_uring op size x io-wq workers (ring only, 1 GiB), GiB/s\n\n| workers |");
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		printf(" %llu MiB ops |", (unsigned long long)(chunks[i] >> 20));
	printf("\n|---|");
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		printf("---|");
	for (size_t k = 0; k < sizeof(w) / sizeof(w[0]); k++) {
		printf("\n| %s |", w[k].name);
		for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
			struct run run = { M_RING_CHUNK, chunks[i], w[k].workers };
			printf(" %.2f |", measure(&run, r));
			fflush(stdout);
		}
	}
	printf("\n");
	reps = saved;
}

/* Policy sweep 2: one batch, submit to last done(): inline vs ring, and
 * how long the main loop is blocked inside submit(). */
static void bench_inline(const struct gmem_region *r)
{
	/* nr ranges of len bytes, stride apart, in one batch. */
	static const struct { const char *name; uint64_t nr, len, stride; } b[] = {
		{ "4 KiB", 1, PAGE, PAGE },
		{ "64 KiB", 1, 64 * 1024, 64 * 1024 },
		{ "1 MiB", 1, MIB, MIB },
		{ "256 scattered pages (1 MiB)", 256, PAGE, 2 * PAGE },
		{ "2 MiB", 1, 2 * MIB, 2 * MIB },
		{ "4 MiB", 1, 4 * MIB, 4 * MIB },
		{ "16 MiB", 1, 16 * MIB, 16 * MIB },
		{ "64 MiB", 1, 64 * MIB, 64 * MIB },
	};
	struct discard_engine *sync = engine_new(DISCARD_ENGINE_SYNC, UINT64_MAX, 0);
	struct discard_engine *ring = engine_new(DISCARD_ENGINE_URING, 0, 0);
	const int n = 30;

	printf("\n### Policy: one batch, submit() to done(), median us (main loop blocked in submit(), us)\n\n");
	printf("| batch | inline | ring: done after | ring: blocked in submit |\n|---|---|---|---|\n");
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		double tin[32], tring[32], tsub[32];
		for (int k = 0; k < n; k++) {
			struct discard_engine *es[2] = { sync, ring };
			for (int w = 0; w < 2; w++) {
				struct discard *d = discard_engine_iface(es[w]);
				touch(r->hva, b[i].nr * b[i].stride);
				double t0 = now_s();
				for (uint64_t j = 0; j < b[i].nr; j++)
					d->ops->queue(d->be, r, j * b[i].stride,
						      b[i].len, NULL);
				engine_pending = 1;
				d->ops->submit(d->be);
				double t1 = now_s();
				engine_wait(es[w]);
				double t2 = now_s();
				if (w == 0) {
					tin[k] = (t2 - t0) * 1e6;
				} else {
					tring[k] = (t2 - t0) * 1e6;
					tsub[k] = (t1 - t0) * 1e6;
				}
			}
		}
		qsort(tin, n, sizeof(double), cmp_double);
		qsort(tring, n, sizeof(double), cmp_double);
		qsort(tsub, n, sizeof(double), cmp_double);
		printf("| %s | %.0f | %.0f | %.0f |\n", b[i].name, tin[n / 2],
		       tring[n / 2], tsub[n / 2]);
	}
	discard_engine_destroy(sync);
	discard_engine_destroy(ring);
}

/* ---- (b): responsiveness ---- */

struct loop_result {
	double worst_ms, total_s;
	uint64_t ticks;
};

enum feed { FEED_NONE, FEED_ONE_BATCH, FEED_PER_REQUEST, FEED_BLOCKING };

/* An epoll loop with a 1 ms timer. FEED_ONE_BATCH: all of `len` queued and
 * submitted in one loop iteration; FEED_PER_REQUEST: one 1 MiB request per
 * iteration, as a guest inflating request by request; FEED_BLOCKING: a
 * plain madvise of everything in one iteration. */
static struct loop_result loop_run(struct discard_engine *e,
				   const struct gmem_region *r, enum feed feed)
{
	struct loop_result res = { 0 };
	struct discard *d = e ? discard_engine_iface(e) : NULL;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int efd = e ? discard_engine_eventfd(e) : -1;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = tfd };
	const double period = 1e-3;

	if (ep < 0 || tfd < 0)
		die("epoll/timerfd", errno);
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	if (efd >= 0) {
		ev.data.fd = efd;
		epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	}
	struct itimerspec its = { .it_interval = { 0, 1000000 },
				  .it_value = { 0, 1000000 } };
	double start = now_s();
	timerfd_settime(tfd, 0, &its, NULL);

	uint64_t next_off = 0, handled = 0;
	bool started = false;
	engine_pending = 0;
	for (;;) {
		/* Work of this iteration, then back to epoll. */
		if (feed == FEED_BLOCKING && !started) {
			madvise_each(r->hva, r->len, r->len);
			next_off = r->len;
		} else if (feed == FEED_ONE_BATCH && !started) {
			for (uint64_t off = 0; off < r->len; off += MIB) {
				/* One cookie per 1 MiB request. */
				d->ops->queue(d->be, r, off, MIB,
					      (void *)(uintptr_t)(off / MIB + 1));
				engine_pending++;
			}
			d->ops->submit(d->be);
			next_off = r->len;
		} else if (feed == FEED_PER_REQUEST && next_off < r->len) {
			d->ops->queue(d->be, r, next_off, MIB, NULL);
			engine_pending++;
			d->ops->submit(d->be);
			next_off += MIB;
		}
		started = true;
		/* One last look at the timer after the work, then stop. */
		bool finished = next_off >= r->len && engine_pending == 0;
		if (feed == FEED_NONE)
			finished = now_s() - start > 0.5;

		struct epoll_event evs[4];
		int to = finished || (feed == FEED_PER_REQUEST && next_off < r->len)
				 ? 0 : feed == FEED_NONE ? 10 : 100;
		int n = epoll_wait(ep, evs, 4, to);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == tfd) {
				uint64_t exp;
				double t = now_s();
				if (read(tfd, &exp, sizeof(exp)) != sizeof(exp))
					continue;
				/* Lateness of the oldest expiration not yet
				 * handled. */
				double due = start + (double)(handled + 1) * period;
				if ((t - due) * 1e3 > res.worst_ms)
					res.worst_ms = (t - due) * 1e3;
				handled += exp;
			} else {
				d->ops->reap(d->be);
			}
		}
		if (finished)
			break;
	}
	res.total_s = now_s() - start;
	res.ticks = handled;
	close(tfd);
	close(ep);
	return res;
}

static void bench_loop(uint64_t len)
{
	struct gmem mem;
	const uint64_t ranges[1][2] = { { 0, len } };
	struct gmem_opts o = { .backend = GMEM_ANON_PRIVATE };
	/* workers: -1 no engine, 0 as shipped, else io-wq cap (~0u: none). */
	static const struct { const char *name; enum feed feed; unsigned workers; } rows[] = {
		{ "no discard: the loop alone for 0.5 s (noise floor)", FEED_NONE, 1 },
		{ "blocking madvise of the whole range", FEED_BLOCKING, 1 },
		{ "engine as shipped, one 4 GiB batch (1 MiB ranges)", FEED_ONE_BATCH, 0 },
		{ "engine as shipped, one 1 MiB request per loop iteration", FEED_PER_REQUEST, 0 },
		{ "engine, 2 io-wq workers, one 4 GiB batch", FEED_ONE_BATCH, 2 },
		{ "engine, kernel's io-wq default, one 4 GiB batch", FEED_ONE_BATCH, ~0u },
	};
	size_t nr_rows = policy ? sizeof(rows) / sizeof(rows[0]) : 4;
	int err = gmem_init(&mem, ranges, 1, &o);

	if (err)
		die("gmem_init", -err);
	printf("\n### (b) Main loop with a 1 ms timerfd while %llu GiB are discarded\n\n",
	       (unsigned long long)(len / GIB));
	printf("| method | worst timer delay, ms | discard wall time, s | GiB/s |\n|---|---|---|---|\n");
	for (size_t i = 0; i < nr_rows; i++) {
		struct discard_engine *e = NULL;
		if (rows[i].feed != FEED_BLOCKING && rows[i].feed != FEED_NONE)
			e = engine_new_workers(DISCARD_ENGINE_AUTO, UINT64_MAX, 0,
					       rows[i].workers);
		if (rows[i].feed != FEED_NONE)
			touch(mem.regions[0].hva, len);
		uint64_t before = rss_bytes();
		struct loop_result res = loop_run(e, &mem.regions[0], rows[i].feed);
		if (rows[i].feed == FEED_NONE) {
			printf("| %s | %.2f | - | - |\n", rows[i].name, res.worst_ms);
			continue;
		}
		if (before - rss_bytes() < len - len / 64)
			die("loop discard freed too little", EIO);
		printf("| %s | %.2f | %.3f | %.2f |\n", rows[i].name, res.worst_ms,
		       res.total_s, (double)len / GIB / res.total_s);
		fflush(stdout);
		discard_engine_destroy(e);
	}
	gmem_destroy(&mem);
}

int main(int argc, char **argv)
{
	bool quick = false;
	struct utsname u;
	struct gmem mem;
	const uint64_t ranges[1][2] = { { 0, GIB } };
	struct gmem_opts o = { .backend = GMEM_ANON_PRIVATE };
	struct discard_engine *probe;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
			reps = 1;
		} else if (!strcmp(argv[i], "--policy")) {
			policy = true;
		} else {
			fprintf(stderr, "usage: %s [--quick] [--policy]\n", argv[0]);
			return 2;
		}
	}
	uname(&u);
	printf("## discard_bench: kernel %s, %ld CPUs\n\nreproduce: make all && %s%s%s\n",
	       u.release, sysconf(_SC_NPROCESSORS_ONLN), argv[0],
	       quick ? " --quick" : "", policy ? " --policy" : "");
	probe = engine_new(DISCARD_ENGINE_AUTO, UINT64_MAX, 0);
	int err = gmem_init(&mem, ranges, 1, &o);
	if (err)
		die("gmem_init", -err);
	bench_throughput(&mem.regions[0], probe);
	if (policy && !strcmp(discard_engine_name(probe), "io_uring")) {
		bench_chunks(&mem.regions[0]);
		bench_inline(&mem.regions[0]);
	}
	gmem_destroy(&mem);
	discard_engine_destroy(probe);
	bench_loop(4 * GIB);
	return 0;
}
