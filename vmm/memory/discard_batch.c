#include "memory/discard_batch.h"

#include <core/checked.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>

int discard_batch_check(const struct gmem_region *r, uint64_t offset,
			uint64_t len)
{
	if (!r || len == 0 || offset % GMEM_PAGE_SIZE || len % GMEM_PAGE_SIZE ||
	    !range_within(offset, len, 0, r->len))
		return -EINVAL;
	switch (r->backend) {
	case GMEM_ANON_PRIVATE:
		return r->hva ? 0 : -EINVAL;
	case GMEM_HUGETLB_2M:
		/* A partial hugepage cannot be punched; the balloon's tracker
		 * sends whole ones only. */
		if (offset % DISCARD_HUGEPAGE_SIZE ||
		    len % DISCARD_HUGEPAGE_SIZE ||
		    r->fd_offset % DISCARD_HUGEPAGE_SIZE)
			return -EINVAL;
		/* fallthrough */
	case GMEM_MEMFD_SHARED:
		if (r->fd < 0 || !range_ok(r->fd_offset, offset + len) ||
		    r->fd_offset + offset + len > (uint64_t)INT64_MAX)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

int discard_batch_exec_sync(const struct gmem_region *r, uint64_t offset,
			    uint64_t len)
{
	int ret;

	if (r->backend == GMEM_ANON_PRIVATE)
		ret = madvise(r->hva + offset, len, MADV_DONTNEED);
	else
		ret = fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)(r->fd_offset + offset), (off_t)len);
	return ret < 0 ? -errno : 0;
}

static int grow(void **arr, uint32_t *cap, size_t elem)
{
	uint32_t ncap = *cap ? *cap * 2 : 64;
	void *p = reallocarray(*arr, ncap, elem);

	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Requests queue their ranges back to back, so the last cookie usually
 * matches; otherwise search backwards. */
static int cookie_index(struct discard_batch *b, void *cookie, uint32_t *idx)
{
	for (uint32_t i = b->nr_cookies; i-- > 0;) {
		if (b->cookies[i].cookie == cookie) {
			*idx = i;
			return 0;
		}
	}
	if (b->nr_cookies == b->cap_cookies &&
	    grow((void **)&b->cookies, &b->cap_cookies, sizeof(*b->cookies)))
		return -ENOMEM;
	b->cookies[b->nr_cookies] = (struct discard_cookie){ .cookie = cookie };
	*idx = b->nr_cookies++;
	return 0;
}

static int discard_batch_append(struct discard_batch **open,
				const struct gmem_region *region,
				uint64_t offset, uint64_t len, void *cookie)
{
	int err = discard_batch_check(region, offset, len);
	if (err)
		return err;
	if (!*open) {
		*open = calloc(1, sizeof(**open));
		if (!*open)
			return -ENOMEM;
	}
	struct discard_batch *b = *open;
	if (b->nr_ranges >= DISCARD_BATCH_MAX_RANGES)
		return -ENOSPC;
	if (b->nr_ranges == b->cap_ranges &&
	    grow((void **)&b->ranges, &b->cap_ranges, sizeof(*b->ranges)))
		return -ENOMEM;
	uint32_t ci;
	if (cookie_index(b, cookie, &ci))
		return -ENOMEM;
	b->cookies[ci].pending++;
	b->ranges[b->nr_ranges++] = (struct discard_range){
		.region = region, .offset = offset, .len = len, .cookie = ci,
	};
	return 0;
}

int discard_batch_add(struct discard_batch **open,
		      const struct gmem_region *region, uint64_t offset,
		      uint64_t len, void *cookie, struct discard_stats *st)
{
	int err = discard_batch_append(open, region, offset, len, cookie);
	if (err)
		st->rejected++;
	else
		st->ranges++;
	return err;
}

static int range_cmp(const void *pa, const void *pb)
{
	const struct discard_range *a = pa, *b = pb;
	uintptr_t ra = (uintptr_t)a->region, rb = (uintptr_t)b->region;

	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return 0;
}

/* Sorted ranges into runs: one extent gets one op per chunk, however the
 * caller split it into ranges. */
static int discard_batch_merge(struct discard_batch *b)
{
	qsort(b->ranges, b->nr_ranges, sizeof(*b->ranges), range_cmp);
	b->runs = calloc(b->nr_ranges, sizeof(*b->runs));
	if (!b->runs)
		return -ENOMEM;
	for (uint32_t i = 0; i < b->nr_ranges; i++) {
		const struct discard_range *r = &b->ranges[i];
		if (b->nr_runs) {
			struct discard_run *run = &b->runs[b->nr_runs - 1];
			if (r->region == b->ranges[run->first].region &&
			    r->offset <= run->end) {
				run->last = i;
				run->end = MAX(run->end, r->offset + r->len);
				continue;
			}
		}
		b->runs[b->nr_runs++] = (struct discard_run){
			.first = i, .last = i,
			.start = r->offset, .end = r->offset + r->len,
		};
	}
	return 0;
}

/* The end of the op that starts at off: the next chunk boundary in guest
 * physical terms, or the run's end. Boundaries on chunk multiples (a
 * multiple of 2 MiB) keep every op whole-hugepage where the run is: an op
 * ending inside a transparent hugepage would split it, though the next op
 * discards the rest (gmem maps gpa and hva congruent modulo 2 MiB). */
static uint64_t op_end(const struct gmem_region *r, uint64_t off,
		       uint64_t run_end, uint64_t chunk)
{
	uint64_t gpa = r->gpa + off;
	if (chunk == UINT64_MAX || gpa > UINT64_MAX - chunk)
		return run_end;
	return MIN(run_end, ALIGN_DOWN(gpa, chunk) + chunk - r->gpa);
}

/* Runs into ops of at most chunk bytes. */
static int discard_batch_split(struct discard_batch *b, uint64_t chunk)
{
	uint64_t nr_ops = 0;
	for (uint32_t ri = 0; ri < b->nr_runs; ri++) {
		const struct discard_run *run = &b->runs[ri];
		const struct gmem_region *region = b->ranges[run->first].region;
		for (uint64_t off = run->start; off < run->end;
		     off = op_end(region, off, run->end, chunk))
			nr_ops++;
	}
	if (nr_ops > UINT32_MAX)
		return -ENOSPC;
	b->ops = calloc(nr_ops, sizeof(*b->ops));
	if (!b->ops)
		return -ENOMEM;
	for (uint32_t ri = 0; ri < b->nr_runs; ri++) {
		struct discard_run *run = &b->runs[ri];
		const struct gmem_region *region = b->ranges[run->first].region;
		b->bytes += run->end - run->start;
		for (uint64_t off = run->start; off < run->end;) {
			uint64_t end = op_end(region, off, run->end, chunk);
			b->ops[b->nr_ops++] = (struct discard_op){
				.batch = b, .region = region, .offset = off,
				.len = end - off, .run = ri,
			};
			run->pending++;
			off = end;
		}
	}
	b->ops_left = b->nr_ops;
	return 0;
}

int discard_batch_plan(struct discard_batch *b, uint64_t chunk_bytes,
		       struct discard_stats *st)
{
	uint64_t chunk = UINT64_MAX;
	if (chunk_bytes <= UINT64_MAX - DISCARD_HUGEPAGE_SIZE)
		chunk = ALIGN_UP(MAX(chunk_bytes, 1), DISCARD_HUGEPAGE_SIZE);
	int err = discard_batch_merge(b);
	if (!err)
		err = discard_batch_split(b, chunk);
	if (err)
		return err;
	st->bytes += b->bytes;
	return 0;
}

bool discard_batch_op_done(struct discard_op *op, int err,
			   discard_done_fn done)
{
	struct discard_batch *b = op->batch;
	struct discard_run *run = &b->runs[op->run];

	if (err && !run->err)
		run->err = err;
	if (--run->pending == 0) {
		for (uint32_t i = run->first; i <= run->last; i++) {
			struct discard_cookie *c = &b->cookies[b->ranges[i].cookie];
			if (run->err && !c->err)
				c->err = run->err;
			if (--c->pending == 0)
				done(c->cookie, c->err);
		}
	}
	return --b->ops_left == 0;
}

/* A batch that could not be planned still owes every cookie its done():
 * discard range by range. */
static void run_unplanned(struct discard_batch *b, discard_done_fn done,
			  struct discard_stats *st)
{
	for (uint32_t i = 0; i < b->nr_ranges; i++) {
		const struct discard_range *r = &b->ranges[i];
		struct discard_cookie *c = &b->cookies[r->cookie];
		int err = discard_batch_exec_sync(r->region, r->offset, r->len);
		st->sync_ops++;
		st->bytes += r->len;
		if (err) {
			st->errors++;
			if (!c->err)
				c->err = err;
		}
		if (--c->pending == 0)
			done(c->cookie, c->err);
	}
	discard_batch_free(b);
}

void discard_batch_run_inline(struct discard_batch *b, discard_done_fn done,
			      struct discard_stats *st)
{
	if (!b->ops) {
		run_unplanned(b, done, st);
		return;
	}
	for (uint32_t i = b->next_op; i < b->nr_ops; i++) {
		struct discard_op *op = &b->ops[i];
		int err = discard_batch_exec_sync(op->region, op->offset, op->len);
		st->sync_ops++;
		if (err)
			st->errors++;
		b->next_op = i + 1;
		if (discard_batch_op_done(op, err, done)) {
			discard_batch_free(b);
			return;
		}
	}
}

bool discard_batch_cancel(struct discard_batch *b, discard_done_fn done,
			  struct discard_stats *st)
{
	if (!b->ops) {
		st->cancelled += b->nr_ranges;
		for (uint32_t i = 0; i < b->nr_cookies; i++)
			done(b->cookies[i].cookie, -ECANCELED);
		return true;
	}
	bool last = b->ops_left == 0;
	while (b->next_op < b->nr_ops) {
		struct discard_op *op = &b->ops[b->next_op++];
		st->cancelled++;
		last = discard_batch_op_done(op, -ECANCELED, done);
	}
	return last;
}

void discard_batch_free(struct discard_batch *b)
{
	if (!b)
		return;
	free(b->ranges);
	free(b->cookies);
	free(b->runs);
	free(b->ops);
	free(b);
}
