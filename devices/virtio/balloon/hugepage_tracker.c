#include <devices/hugepage_tracker.h>

#include <core/checked.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WORD_BITS 64u

static bool bit_get(const uint64_t *map, uint64_t i)
{
	return map[i / WORD_BITS] >> (i % WORD_BITS) & 1;
}

static void bit_put(uint64_t *map, uint64_t i, bool v)
{
	uint64_t m = 1ULL << (i % WORD_BITS);
	if (v)
		map[i / WORD_BITS] |= m;
	else
		map[i / WORD_BITS] &= ~m;
}

static uint64_t words(uint64_t bits)
{
	return (bits + WORD_BITS - 1) / WORD_BITS;
}

int hugepage_tracker_init(struct hugepage_tracker *t, uint64_t len)
{
	memset(t, 0, sizeof(*t));
	if (len == 0 || len % HUGEPAGE_TRACKER_HUGE_SIZE)
		return -EINVAL;
	t->len = len;
	t->nr_huge = len / HUGEPAGE_TRACKER_HUGE_SIZE;
	t->ballooned = calloc(words(len / HUGEPAGE_TRACKER_PAGE_SIZE),
			      sizeof(uint64_t));
	t->count = calloc(t->nr_huge, sizeof(uint16_t));
	t->discarded = calloc(words(t->nr_huge), sizeof(uint64_t));
	if (!t->ballooned || !t->count || !t->discarded) {
		hugepage_tracker_destroy(t);
		return -ENOMEM;
	}
	return 0;
}

void hugepage_tracker_destroy(struct hugepage_tracker *t)
{
	free(t->ballooned);
	free(t->count);
	free(t->discarded);
	memset(t, 0, sizeof(*t));
}

void hugepage_tracker_clear(struct hugepage_tracker *t)
{
	if (!t->ballooned)
		return;
	memset(t->ballooned, 0,
	       words(t->len / HUGEPAGE_TRACKER_PAGE_SIZE) * sizeof(uint64_t));
	memset(t->count, 0, t->nr_huge * sizeof(uint16_t));
	memset(t->discarded, 0, words(t->nr_huge) * sizeof(uint64_t));
	t->nr_ballooned = 0;
	t->nr_discarded = 0;
}

static bool range_valid(const struct hugepage_tracker *t, uint64_t offset,
			uint64_t len)
{
	return t->ballooned && len && offset % HUGEPAGE_TRACKER_PAGE_SIZE == 0 &&
	       len % HUGEPAGE_TRACKER_PAGE_SIZE == 0 &&
	       range_within(offset, len, 0, t->len);
}

/* Coalesces the hugepages handed to fn into runs. */
struct run {
	hugepage_tracker_fn fn;
	void *opaque;
	uint64_t start, end;
};

static void run_add(struct run *r, uint64_t huge)
{
	uint64_t off = huge * HUGEPAGE_TRACKER_HUGE_SIZE;
	if (r->end == off && r->end != r->start) {
		r->end += HUGEPAGE_TRACKER_HUGE_SIZE;
		return;
	}
	if (r->end != r->start && r->fn)
		r->fn(r->opaque, r->start, r->end - r->start);
	r->start = off;
	r->end = off + HUGEPAGE_TRACKER_HUGE_SIZE;
}

static void run_flush(struct run *r)
{
	if (r->end != r->start && r->fn)
		r->fn(r->opaque, r->start, r->end - r->start);
	r->start = r->end = 0;
}

/* A page of hugepage h went into the balloon: true when that filled h. */
static bool page_in(struct hugepage_tracker *t, uint64_t h)
{
	t->nr_ballooned++;
	if (++t->count[h] < HUGEPAGE_TRACKER_SUBPAGES)
		return false;
	/* Full: it cannot be discarded already (invariant). */
	bit_put(t->discarded, h, true);
	t->nr_discarded++;
	return true;
}

/* A page of hugepage h left the balloon: true when h was discarded. */
static bool page_out(struct hugepage_tracker *t, uint64_t h)
{
	t->nr_ballooned--;
	t->count[h]--;
	if (!bit_get(t->discarded, h))
		return false;
	bit_put(t->discarded, h, false);
	t->nr_discarded--;
	return true;
}

/* Puts every page of the range in the balloon or takes it out; fn hears of
 * the hugepages whose discarded state that changed. */
static int update(struct hugepage_tracker *t, uint64_t offset, uint64_t len,
		  bool ballooned, hugepage_tracker_fn fn, void *opaque)
{
	if (!range_valid(t, offset, len))
		return -EINVAL;
	struct run run = {.fn = fn, .opaque = opaque};
	uint64_t first = offset / HUGEPAGE_TRACKER_PAGE_SIZE;
	uint64_t last = first + len / HUGEPAGE_TRACKER_PAGE_SIZE;
	for (uint64_t p = first; p < last; p++) {
		if (bit_get(t->ballooned, p) == ballooned)
			continue;
		bit_put(t->ballooned, p, ballooned);
		uint64_t h = p / HUGEPAGE_TRACKER_SUBPAGES;
		if (ballooned ? page_in(t, h) : page_out(t, h))
			run_add(&run, h);
	}
	run_flush(&run);
	return 0;
}

int hugepage_tracker_inflate(struct hugepage_tracker *t, uint64_t offset,
			     uint64_t len, hugepage_tracker_fn fn,
			     void *opaque)
{
	return update(t, offset, len, true, fn, opaque);
}

int hugepage_tracker_deflate(struct hugepage_tracker *t, uint64_t offset,
			     uint64_t len, hugepage_tracker_fn fn,
			     void *opaque)
{
	return update(t, offset, len, false, fn, opaque);
}
