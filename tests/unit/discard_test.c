/* The discard engine on real memory: anonymous and memfd regions, through
 * the synchronous backend, the io_uring ring and the shipped policy. */
#include "memory/discard_engine.h"

#include <core/gmem.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096ULL
#define MIB (1ULL << 20)
#define MAX_RANGES 520

/* A device request: the ranges queued under one cookie. */
struct req {
	const struct gmem_region *region;
	unsigned nr;
	uint64_t off[MAX_RANGES], len[MAX_RANGES];
	int calls;
	int err;
	bool gone_at_done; /* every range non-resident when done() ran */
	/* Optional follow-up queued and submitted from inside done(). */
	struct discard *chain_d;
	struct req *chain;
};

static int done_calls;

static unsigned resident_pages(const uint8_t *p, uint64_t len)
{
	unsigned char vec[4096];
	unsigned n = 0;

	for (uint64_t done = 0; done < len;) {
		uint64_t chunk = len - done < sizeof(vec) * PAGE ? len - done
								: sizeof(vec) * PAGE;
		cr_assert_eq(mincore((void *)(p + done), chunk, vec), 0);
		for (uint64_t i = 0; i < chunk / PAGE; i++)
			n += vec[i] & 1;
		done += chunk;
	}
	return n;
}

static void req_queue(struct discard *d, struct req *q);

static void on_done(void *cookie, int err)
{
	struct req *q = cookie;

	q->calls++;
	q->err = err;
	q->gone_at_done = !err; /* a failed range may be unmapped */
	for (unsigned i = 0; i < q->nr && !err; i++)
		if (resident_pages(q->region->hva + q->off[i], q->len[i]))
			q->gone_at_done = false;
	done_calls++;
	if (q->chain) {
		req_queue(q->chain_d, q->chain);
		cr_assert_eq(q->chain_d->ops->submit(q->chain_d->be), 0);
	}
}

static void req_add(struct req *q, const struct gmem_region *r, uint64_t off,
		    uint64_t len)
{
	q->region = r;
	q->off[q->nr] = off;
	q->len[q->nr] = len;
	q->nr++;
}

static void req_queue(struct discard *d, struct req *q)
{
	for (unsigned i = 0; i < q->nr; i++)
		cr_assert_eq(d->ops->queue(d->be, q->region, q->off[i],
					   q->len[i], q),
			     0);
}

static void touch(uint8_t *p, uint64_t len, uint8_t v)
{
	for (uint64_t i = 0; i < len; i += PAGE)
		memset(p + i, v, PAGE);
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Kinds under test: sync, the ring for every batch, the shipped policy. */
enum mode { MODE_SYNC, MODE_RING, MODE_SHIPPED };

static struct discard_engine *engine_new(enum mode m, uint64_t chunk)
{
	struct discard_engine_opts o;
	struct discard_engine *e;

	discard_engine_default_opts(&o);
	if (m == MODE_SYNC)
		o.kind = DISCARD_ENGINE_SYNC;
	if (m == MODE_RING) {
		o.kind = DISCARD_ENGINE_URING;
		o.inline_max_bytes = 0;
	}
	if (chunk)
		o.chunk_bytes = chunk;
	int err = discard_engine_create(&e, &o, on_done);
	if (m == MODE_RING && (err == -ENOSYS || err == -EPERM ||
			       err == -EOPNOTSUPP))
		cr_skip_test("io_uring unavailable here (%s)", strerror(-err));
	cr_assert_eq(err, 0, "create: %s", strerror(-err));
	return e;
}

/* Waits on the eventfd like the main loop, until `want` done() calls. */
static void wait_done(struct discard_engine *e, int want)
{
	struct discard *d = discard_engine_iface(e);
	int fd = discard_engine_eventfd(e);

	for (int spins = 0; done_calls < want; spins++) {
		cr_assert_lt(spins, 200, "only %d of %d done() calls", done_calls,
			     want);
		if (fd >= 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			poll(&pfd, 1, 20);
		}
		cr_assert_eq(d->ops->reap(d->be), 0);
	}
}

static void init_mem(struct gmem *mem, enum gmem_backend be, uint64_t len)
{
	const uint64_t ranges[1][2] = { { 0, len } };
	struct gmem_opts o = { .backend = be };

	cr_assert_eq(gmem_init(mem, ranges, 1, &o), 0);
}

static void discards_anon(enum mode m)
{
	struct gmem mem;
	init_mem(&mem, GMEM_ANON_PRIVATE, 8 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine *e = engine_new(m, 0);
	struct discard *d = discard_engine_iface(e);
	static struct req q;

	touch(r->hva, r->len, 0xa5);
	cr_assert_eq(resident_pages(r->hva, r->len), r->len / PAGE);
	/* 4 MiB in the middle, as 3 ranges; the rest must survive. */
	req_add(&q, r, 2 * MIB, MIB);
	req_add(&q, r, 3 * MIB, 2 * MIB);
	req_add(&q, r, 5 * MIB, MIB);
	req_queue(d, &q);
	cr_assert_eq(d->ops->submit(d->be), 0);
	wait_done(e, 1);

	cr_assert_eq(q.calls, 1);
	cr_assert_eq(q.err, 0);
	cr_assert(q.gone_at_done);
	cr_assert_eq(resident_pages(r->hva, r->len), 4 * MIB / PAGE);
	cr_assert(all_zero(r->hva + 2 * MIB, 4 * MIB));
	cr_assert_eq(r->hva[2 * MIB - 1], 0xa5);
	cr_assert_eq(r->hva[6 * MIB], 0xa5);
	struct discard_stats st;
	discard_engine_stats(e, &st);
	cr_assert_eq(st.ranges, 3);
	cr_assert_eq(st.bytes, 4 * MIB);
	cr_assert_eq(st.errors, 0);
	cr_assert_eq(st.uring_ops + st.sync_ops, 1, "merged into one op");
	if (m != MODE_SHIPPED)
		cr_assert_eq(m == MODE_RING ? st.uring_ops : st.sync_ops, 1);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}

Test(discard, sync_backend_zeroes_and_frees_anon_memory)
{
	discards_anon(MODE_SYNC);
}

Test(discard, ring_zeroes_and_frees_anon_memory)
{
	discards_anon(MODE_RING);
}

Test(discard, shipped_policy_zeroes_and_frees_anon_memory)
{
	discards_anon(MODE_SHIPPED);
}

static void punches_memfd(enum mode m)
{
	struct gmem mem;
	init_mem(&mem, GMEM_MEMFD_SHARED, 8 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine *e = engine_new(m, 0);
	struct discard *d = discard_engine_iface(e);
	static struct req q;
	struct stat sb;

	touch(r->hva, r->len, 0x5a);
	cr_assert_eq(fstat(r->fd, &sb), 0);
	cr_assert_geq((uint64_t)sb.st_blocks * 512, 8 * MIB);
	req_add(&q, r, 0, 3 * MIB);
	req_add(&q, r, 3 * MIB, 3 * MIB);
	req_queue(d, &q);
	cr_assert_eq(d->ops->submit(d->be), 0);
	wait_done(e, 1);

	cr_assert_eq(q.calls, 1);
	cr_assert_eq(q.err, 0);
	cr_assert(q.gone_at_done);
	cr_assert_eq(fstat(r->fd, &sb), 0);
	cr_assert_eq((uint64_t)sb.st_blocks * 512, 2 * MIB);
	cr_assert_eq(sb.st_size, 8 * MIB, "KEEP_SIZE");
	cr_assert(all_zero(r->hva, 6 * MIB));
	cr_assert_eq(r->hva[6 * MIB], 0x5a);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}

Test(discard, sync_backend_punches_memfd)
{
	punches_memfd(MODE_SYNC);
}

Test(discard, ring_punches_memfd)
{
	punches_memfd(MODE_RING);
}

Test(discard, shipped_policy_punches_memfd)
{
	punches_memfd(MODE_SHIPPED);
}

/* Many cookies, many ranges each, adjacent and overlapping across cookies,
 * split into several ops: each done() exactly once, after its last op. */
static void many_cookies(enum mode m)
{
	struct gmem mem;
	init_mem(&mem, GMEM_ANON_PRIVATE, 32 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	/* 4 MiB ops: the 16 MiB extent takes four. */
	struct discard_engine *e = engine_new(m, 4 * MIB);
	struct discard *d = discard_engine_iface(e);
	static struct req q[8];

	touch(r->hva, r->len, 1);
	/* Cookie i owns every 8th page of [0, 16 MiB): interleaved ranges,
	 * queued one page at a time, cookie by cookie. */
	for (unsigned i = 0; i < 8; i++)
		for (uint64_t p = i; p < 16 * MIB / PAGE && q[i].nr < MAX_RANGES;
		     p += 8)
			req_add(&q[i], r, p * PAGE, PAGE);
	/* Cookie 0 also overlaps what the others hold. */
	req_add(&q[0], r, 12 * MIB, 2 * MIB);
	for (unsigned i = 0; i < 8; i++)
		req_queue(d, &q[i]);
	cr_assert_eq(d->ops->submit(d->be), 0);
	wait_done(e, 8);

	for (unsigned i = 0; i < 8; i++) {
		cr_assert_eq(q[i].calls, 1, "cookie %u: %d calls", i, q[i].calls);
		cr_assert_eq(q[i].err, 0);
		cr_assert(q[i].gone_at_done, "cookie %u done too early", i);
	}
	cr_assert_eq(resident_pages(r->hva, 16 * MIB), 0);
	cr_assert_eq(resident_pages(r->hva + 16 * MIB, 16 * MIB), 16 * MIB / PAGE);
	struct discard_stats st;
	discard_engine_stats(e, &st);
	cr_assert_eq(st.bytes, 16 * MIB);
	/* 4097 ranges queued, never one op per page. */
	cr_assert_eq(st.ranges, 4097);
	if (m == MODE_SYNC)
		cr_assert_eq(st.sync_ops, 1);
	else
		cr_assert_eq(st.uring_ops, 4);
	cr_assert_eq(done_calls, 8);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}

Test(discard, sync_backend_merges_and_completes_each_cookie_once)
{
	many_cookies(MODE_SYNC);
}

Test(discard, ring_merges_and_completes_each_cookie_once)
{
	many_cookies(MODE_RING);
}

Test(discard, ring_completes_only_from_reap_after_eventfd)
{
	struct gmem mem;
	init_mem(&mem, GMEM_ANON_PRIVATE, 4 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine *e = engine_new(MODE_RING, 0);
	struct discard *d = discard_engine_iface(e);
	static struct req q;

	touch(r->hva, r->len, 3);
	req_add(&q, r, 0, 4 * MIB);
	req_queue(d, &q);
	cr_assert_eq(q.calls, 0);
	cr_assert_eq(d->ops->submit(d->be), 0);
	cr_assert_eq(q.calls, 0, "the ring completes in reap(), not submit()");
	struct pollfd pfd = { .fd = d->ops->eventfd(d->be), .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, 2000), 1, "eventfd never became readable");
	wait_done(e, 1);
	cr_assert_eq(q.calls, 1);
	cr_assert(q.gone_at_done);
	/* reap() drained the eventfd: the loop will not spin. */
	cr_assert_eq(poll(&pfd, 1, 0), 0);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}

Test(discard, shipped_policy_runs_small_batches_inline_and_large_on_ring)
{
	struct gmem mem;
	init_mem(&mem, GMEM_ANON_PRIVATE, 64 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine *e = engine_new(MODE_SHIPPED, 0);
	struct discard *d = discard_engine_iface(e);
	static struct req small, large;

	if (strcmp(discard_engine_name(e), "io_uring"))
		cr_skip_test("io_uring unavailable here");
	touch(r->hva, r->len, 7);
	/* One Linux inflate request: 256 scattered pages. */
	for (unsigned i = 0; i < 256; i++)
		req_add(&small, r, i * 2 * PAGE, PAGE);
	req_queue(d, &small);
	cr_assert_eq(d->ops->submit(d->be), 0);
	cr_assert_eq(small.calls, 1, "small batch completes inside submit()");
	cr_assert(small.gone_at_done);

	req_add(&large, r, 16 * MIB, 48 * MIB);
	req_queue(d, &large);
	cr_assert_eq(d->ops->submit(d->be), 0);
	wait_done(e, 2);
	cr_assert_eq(large.calls, 1);
	cr_assert(large.gone_at_done);
	struct discard_stats st;
	discard_engine_stats(e, &st);
	cr_assert_eq(st.sync_ops, 256);
	cr_assert_gt(st.uring_ops, 0);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}

static void rejects_invalid(enum mode m, enum gmem_backend be)
{
	struct gmem mem;
	init_mem(&mem, be, 4 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine *e = engine_new(m, 0);
	struct discard *d = discard_engine_iface(e);
	const uint64_t bad[][2] = {
		{ 4 * MIB, PAGE },           /* past the end */
		{ 4 * MIB - PAGE, 2 * PAGE }, /* straddles the end */
		{ 100, PAGE },               /* unaligned offset */
		{ 0, 100 },                  /* unaligned length */
		{ 0, 0 },                    /* empty */
		{ UINT64_MAX - PAGE + 1, 2 * PAGE }, /* wraps */
		{ PAGE, UINT64_MAX - PAGE + 1 },     /* wraps */
	};
	int cookie;

	touch(r->hva, r->len, 9);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(d->ops->queue(d->be, r, bad[i][0], bad[i][1], &cookie),
			     -EINVAL, "range %u accepted", i);
	cr_assert_eq(d->ops->queue(d->be, NULL, 0, PAGE, &cookie), -EINVAL);
	cr_assert_eq(d->ops->submit(d->be), 0);
	cr_assert_eq(discard_engine_drain(e), 0);
	cr_assert_eq(done_calls, 0);
	cr_assert_eq(resident_pages(r->hva, r->len), r->len / PAGE);
	for (uint64_t i = 0; i < r->len; i += PAGE)
		cr_assert_eq(r->hva[i], 9);
	struct discard_stats st;
	discard_engine_stats(e, &st);
	cr_assert_eq(st.rejected, 8);
	cr_assert_eq(st.ranges, 0);
	cr_assert_eq(st.bytes, 0);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}

Test(discard, sync_backend_rejects_invalid_ranges)
{
	rejects_invalid(MODE_SYNC, GMEM_ANON_PRIVATE);
}

Test(discard, ring_rejects_invalid_ranges)
{
	rejects_invalid(MODE_RING, GMEM_ANON_PRIVATE);
	done_calls = 0;
	rejects_invalid(MODE_RING, GMEM_MEMFD_SHARED);
}

/* Hugetlb memory gives back whole 2 MiB pages only. The region is a plain
 * memfd labelled hugetlb: validation needs no reserved hugepages. */
Test(discard, rejects_partial_hugepages)
{
	struct discard_engine *e = engine_new(MODE_SHIPPED, 0);
	struct discard *d = discard_engine_iface(e);
	int fd = memfd_create("discard-test", MFD_CLOEXEC);
	static struct req q;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 8 * MIB), 0);
	uint8_t *hva = mmap(NULL, 8 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED,
			    fd, 0);
	cr_assert_neq(hva, MAP_FAILED);
	struct gmem_region r = {
		.gpa = 0, .len = 8 * MIB, .hva = hva, .fd = fd,
		.backend = GMEM_HUGETLB_2M,
	};
	touch(hva, 8 * MIB, 4);
	cr_assert_eq(d->ops->queue(d->be, &r, 0, PAGE, &q), -EINVAL);
	cr_assert_eq(d->ops->queue(d->be, &r, MIB, 2 * MIB, &q), -EINVAL);
	cr_assert_eq(d->ops->queue(d->be, &r, 2 * MIB, 3 * MIB, &q), -EINVAL);
	req_add(&q, &r, 2 * MIB, 4 * MIB);
	req_queue(d, &q);
	cr_assert_eq(d->ops->submit(d->be), 0);
	wait_done(e, 1);
	cr_assert_eq(q.err, 0);
	cr_assert_eq(resident_pages(hva, 8 * MIB), 4 * MIB / PAGE);
	cr_assert(all_zero(hva + 2 * MIB, 4 * MIB));
	discard_engine_destroy(e);
	munmap(hva, 8 * MIB);
	close(fd);
}

/* A ring op that fails is retried synchronously; the caller sees the same
 * done() results as from the sync backend, and the failure is counted. */
static void failing_range(enum mode m, struct discard_stats *st, int *err_a,
			  int *err_b)
{
	struct gmem mem;
	init_mem(&mem, GMEM_ANON_PRIVATE, 8 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine *e = engine_new(m, 0);
	struct discard *d = discard_engine_iface(e);
	static struct req a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	touch(r->hva, r->len, 6);
	req_add(&a, r, 0, 2 * MIB);
	req_add(&b, r, 4 * MIB, 4 * MIB);
	req_queue(d, &a);
	req_queue(d, &b);
	/* The region loses a hole under b's range: madvise fails -ENOMEM. */
	cr_assert_eq(munmap(r->hva + 5 * MIB, MIB), 0);
	cr_assert_eq(d->ops->submit(d->be), 0);
	wait_done(e, 2);
	cr_assert_eq(a.calls, 1);
	cr_assert_eq(b.calls, 1);
	cr_assert(all_zero(r->hva, 2 * MIB));
	cr_assert(all_zero(r->hva + 4 * MIB, MIB), "mapped part still dropped");
	cr_assert_eq(r->hva[2 * MIB], 6);
	*err_a = a.err;
	*err_b = b.err;
	discard_engine_stats(e, st);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}

Test(discard, failed_ring_op_falls_back_with_sync_results)
{
	struct discard_stats ring, sync;
	int ring_a, ring_b, sync_a, sync_b;

	failing_range(MODE_RING, &ring, &ring_a, &ring_b);
	done_calls = 0;
	failing_range(MODE_SYNC, &sync, &sync_a, &sync_b);
	cr_assert_eq(ring_a, 0);
	cr_assert_eq(ring_b, -ENOMEM);
	cr_assert_eq(sync_a, ring_a);
	cr_assert_eq(sync_b, ring_b);
	cr_assert_eq(ring.fallbacks, 1);
	cr_assert_eq(ring.uring_ops, 1);
	cr_assert_eq(ring.errors, 1);
	cr_assert_eq(sync.errors, 1);
	cr_assert_eq(sync.fallbacks, 0);
}

/* A device answers a request from done() and starts the next one there. */
Test(discard, done_may_queue_and_submit_again)
{
	struct gmem mem;
	init_mem(&mem, GMEM_ANON_PRIVATE, 16 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine *e = engine_new(MODE_RING, 0);
	struct discard *d = discard_engine_iface(e);
	static struct req first, second;

	touch(r->hva, r->len, 8);
	req_add(&first, r, 0, 8 * MIB);
	req_add(&second, r, 8 * MIB, 8 * MIB);
	first.chain = &second;
	first.chain_d = d;
	req_queue(d, &first);
	cr_assert_eq(d->ops->submit(d->be), 0);
	wait_done(e, 2);
	cr_assert_eq(first.calls, 1);
	cr_assert_eq(second.calls, 1);
	cr_assert(second.gone_at_done);
	cr_assert_eq(resident_pages(r->hva, r->len), 0);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}

Test(discard, destroy_finishes_queued_and_inflight_work)
{
	struct gmem mem;
	init_mem(&mem, GMEM_ANON_PRIVATE, 16 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine *e = engine_new(MODE_RING, 0);
	struct discard *d = discard_engine_iface(e);
	static struct req inflight, queued;

	touch(r->hva, r->len, 2);
	req_add(&inflight, r, 0, 8 * MIB);
	req_queue(d, &inflight);
	cr_assert_eq(d->ops->submit(d->be), 0);
	req_add(&queued, r, 8 * MIB, 8 * MIB);
	req_queue(d, &queued);
	discard_engine_destroy(e);
	cr_assert_eq(inflight.calls, 1);
	cr_assert_eq(queued.calls, 1);
	cr_assert_eq(resident_pages(r->hva, r->len), 0);
	gmem_destroy(&mem);
}

Test(discard, sync_backend_has_no_eventfd)
{
	struct discard_engine *e = engine_new(MODE_SYNC, 0);

	cr_assert_eq(discard_engine_eventfd(e), -1);
	cr_assert_str_eq(discard_engine_name(e), "sync");
	discard_engine_destroy(e);
}

/* ---- cancel (issue 12: a balloon reset cancels, then waits) ---- */

Test(discard, sync_backend_cancel_drops_queued_ranges_unrun)
{
	struct gmem mem;
	init_mem(&mem, GMEM_ANON_PRIVATE, 4 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine *e = engine_new(MODE_SYNC, 0);
	struct discard *d = discard_engine_iface(e);
	static struct req q;

	touch(r->hva, r->len, 0xa5);
	req_add(&q, r, MIB, MIB);
	req_add(&q, r, 3 * MIB, MIB);
	req_queue(d, &q);
	cr_assert_eq(d->ops->cancel(d->be), 0);
	cr_assert_eq(q.calls, 1);
	cr_assert_eq(q.err, -ECANCELED);
	cr_assert_eq(r->hva[MIB], 0xa5, "a cancelled range never ran");
	cr_assert_eq(r->hva[3 * MIB], 0xa5);
	struct discard_stats st;
	discard_engine_stats(e, &st);
	cr_assert_eq(st.cancelled, 2);
	cr_assert_eq(d->ops->submit(d->be), 0, "nothing left to run");
	cr_assert_eq(q.calls, 1);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}

/* A one-entry ring holds one 2 MiB op; the other three wait for room and
 * are dropped, the one in the kernel completes and then done() runs. */
Test(discard, ring_cancel_drops_what_waits_for_the_ring)
{
	struct gmem mem;
	init_mem(&mem, GMEM_ANON_PRIVATE, 8 * MIB);
	const struct gmem_region *r = &mem.regions[0];
	struct discard_engine_opts o;
	struct discard_engine *e;
	discard_engine_default_opts(&o);
	o.kind = DISCARD_ENGINE_URING;
	o.inline_max_bytes = 0;
	o.chunk_bytes = 2 * MIB;
	o.ring_entries = 1;
	int err = discard_engine_create(&e, &o, on_done);
	if (err == -ENOSYS || err == -EPERM || err == -EOPNOTSUPP)
		cr_skip_test("io_uring unavailable here (%s)", strerror(-err));
	cr_assert_eq(err, 0);
	struct discard *d = discard_engine_iface(e);
	static struct req q;

	touch(r->hva, r->len, 0xa5);
	req_add(&q, r, 0, 8 * MIB);
	req_queue(d, &q);
	cr_assert_eq(d->ops->submit(d->be), 0);
	cr_assert_eq(d->ops->cancel(d->be), 0);
	done_calls = 0;
	wait_done(e, 1);
	cr_assert_eq(q.calls, 1);
	cr_assert_eq(q.err, -ECANCELED);
	cr_assert(all_zero(r->hva, 2 * MIB), "the op in the kernel ran");
	for (uint64_t off = 2 * MIB; off < 8 * MIB; off += MIB)
		cr_assert_eq(r->hva[off], 0xa5, "offset %llu ran after cancel",
			     (unsigned long long)off);
	struct discard_stats st;
	discard_engine_stats(e, &st);
	cr_assert_eq(st.cancelled, 3);
	discard_engine_destroy(e);
	gmem_destroy(&mem);
}
