/* The partial-hugepage tracker against a reference model: random inflate
 * and deflate sequences, every hugepage reported discarded exactly when it
 * became entirely ballooned, and un-discarded when any page left. The
 * tracker is observed as its users see it: the hugepages handed to fn and
 * the counts. */
#include <devices/hugepage_tracker.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HUGE HUGEPAGE_TRACKER_HUGE_SIZE
#define PAGE HUGEPAGE_TRACKER_PAGE_SIZE
#define SUB HUGEPAGE_TRACKER_SUBPAGES

TestSuite(hugepage_tracker);

/* What fn was called with, one flag per hugepage, plus the runs. */
struct calls {
	unsigned nr_huge;
	unsigned *hits; /* times each hugepage was reported */
	unsigned runs;
	uint64_t last_end;
	bool unsorted, unaligned, adjacent;
};

static void record(void *opaque, uint64_t offset, uint64_t len)
{
	struct calls *c = opaque;
	if (offset % HUGE || len % HUGE || len == 0)
		c->unaligned = true;
	/* Runs of one call are ascending and coalesced. */
	if (c->runs && offset < c->last_end)
		c->unsorted = true;
	if (c->runs && offset == c->last_end)
		c->adjacent = true;
	c->runs++;
	c->last_end = offset + len;
	for (uint64_t o = offset; o < offset + len; o += HUGE) {
		cr_assert_lt(o / HUGE, c->nr_huge);
		c->hits[o / HUGE]++;
	}
}

static void calls_reset(struct calls *c)
{
	memset(c->hits, 0, c->nr_huge * sizeof(*c->hits));
	c->runs = 0;
	c->last_end = 0;
	c->unsorted = c->unaligned = c->adjacent = false;
}

/* The model: a plain array of booleans. */
struct model {
	unsigned nr_huge;
	bool *page;      /* per 4 KiB page */
	bool *discarded; /* per hugepage */
};

static unsigned model_count(const struct model *m, unsigned h)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SUB; i++)
		n += m->page[h * SUB + i];
	return n;
}

/* The counts after every step. Which hugepages are discarded follows from
 * the runs handed to fn, checked step by step against the model. */
static void check_counts(const struct hugepage_tracker *t,
			 const struct model *m)
{
	uint64_t ballooned = 0, discarded = 0;
	for (uint64_t p = 0; p < (uint64_t)m->nr_huge * SUB; p++)
		ballooned += m->page[p];
	for (unsigned h = 0; h < m->nr_huge; h++)
		discarded += m->discarded[h];
	cr_assert_eq(t->nr_ballooned, ballooned);
	cr_assert_eq(t->nr_discarded, discarded);
}

/* Whether the page at offset is in the balloon, asked as a caller can:
 * inflating it again adds a page only if it was out. Leaves t as it was. */
static bool probe_ballooned(struct hugepage_tracker *t, uint64_t offset)
{
	uint64_t before = t->nr_ballooned;
	cr_assert_eq(hugepage_tracker_inflate(t, offset, PAGE, NULL, NULL), 0);
	if (t->nr_ballooned == before)
		return true;
	cr_assert_eq(hugepage_tracker_deflate(t, offset, PAGE, NULL, NULL), 0);
	return false;
}

/* Every page, one at a time. */
static void check_pages(struct hugepage_tracker *t, const struct model *m)
{
	uint64_t discarded = t->nr_discarded;
	for (uint64_t p = 0; p < (uint64_t)m->nr_huge * SUB; p++)
		cr_assert_eq(probe_ballooned(t, p * PAGE), m->page[p],
			     "page %llu", (unsigned long long)p);
	cr_assert_eq(t->nr_discarded, discarded, "probing changed the tracker");
}

/* Random ranges, mostly small (Linux sends scattered 4 KiB pages), some
 * spanning hugepage boundaries, some whole hugepages. */
static void random_range(unsigned nr_huge, uint64_t *off, uint64_t *len)
{
	uint64_t pages = (uint64_t)nr_huge * SUB;
	uint64_t first = (uint64_t)rand() % pages, n;
	switch (rand() % 4) {
	case 0: n = 1; break;
	case 1: n = 1 + (uint64_t)rand() % 64; break;
	case 2: n = 1 + (uint64_t)rand() % (2 * SUB); break;
	default: first -= first % SUB; n = SUB; break;
	}
	if (first + n > pages)
		n = pages - first;
	*off = first * PAGE;
	*len = n * PAGE;
}

Test(hugepage_tracker, random_sequences_match_the_model)
{
	const unsigned nr_huge = 6;
	for (unsigned seed = 1; seed <= 40; seed++) {
		srand(seed);
		struct hugepage_tracker t;
		cr_assert_eq(hugepage_tracker_init(&t, nr_huge * HUGE), 0);
		struct model m = {
			.nr_huge = nr_huge,
			.page = calloc(nr_huge * SUB, sizeof(bool)),
			.discarded = calloc(nr_huge, sizeof(bool)),
		};
		struct calls c = {.nr_huge = nr_huge,
				  .hits = calloc(nr_huge, sizeof(unsigned))};
		/* Inflate-heavy first (hugepages fill up), then mixed. */
		for (unsigned step = 0; step < 600; step++) {
			bool inflate = rand() % 100 < (step < 300 ? 80 : 45);
			uint64_t off, len;
			random_range(nr_huge, &off, &len);
			bool was[nr_huge];
			memcpy(was, m.discarded, sizeof(was));
			for (uint64_t p = off / PAGE; p < (off + len) / PAGE; p++)
				m.page[p] = inflate;
			for (unsigned h = 0; h < nr_huge; h++)
				m.discarded[h] = model_count(&m, h) == SUB;
			calls_reset(&c);
			int r = inflate ? hugepage_tracker_inflate(&t, off, len,
								   record, &c)
					: hugepage_tracker_deflate(&t, off, len,
								   record, &c);
			cr_assert_eq(r, 0);
			cr_assert_not(c.unaligned || c.unsorted || c.adjacent,
				      "runs must be whole, ascending, coalesced");
			for (unsigned h = 0; h < nr_huge; h++) {
				bool changed = was[h] != m.discarded[h];
				cr_assert_eq(c.hits[h], changed ? 1u : 0u,
					     "seed %u step %u %s hugepage %u: "
					     "reported %u times",
					     seed, step,
					     inflate ? "inflate" : "deflate", h,
					     c.hits[h]);
			}
			check_counts(&t, &m);
			if (step % 100 == 99)
				check_pages(&t, &m);
		}
		hugepage_tracker_destroy(&t);
		free(m.page);
		free(m.discarded);
		free(c.hits);
	}
}

Test(hugepage_tracker, discards_only_when_all_512_pages_are_in)
{
	struct hugepage_tracker t;
	unsigned hits[2] = {0};
	struct calls c = {.nr_huge = 2, .hits = hits};
	cr_assert_eq(hugepage_tracker_init(&t, 2 * HUGE), 0);
	/* Every page of hugepage 1 but one, one at a time, in reverse. */
	for (unsigned i = SUB; i-- > 1;)
		hugepage_tracker_inflate(&t, HUGE + i * PAGE, PAGE, record, &c);
	cr_assert_eq(c.runs, 0);
	/* Inflating a page again changes nothing. */
	hugepage_tracker_inflate(&t, HUGE + PAGE, PAGE, record, &c);
	cr_assert_eq(c.runs, 0);
	hugepage_tracker_inflate(&t, HUGE, PAGE, record, &c);
	cr_assert_eq(c.runs, 1);
	cr_assert_eq(hits[1], 1);
	cr_assert_eq(hits[0], 0);
	cr_assert_eq(t.nr_discarded, 1);
	hugepage_tracker_destroy(&t);
}

Test(hugepage_tracker, deflating_one_page_cancels_and_refill_discards_again)
{
	struct hugepage_tracker t;
	unsigned hits[1] = {0};
	struct calls c = {.nr_huge = 1, .hits = hits};
	cr_assert_eq(hugepage_tracker_init(&t, HUGE), 0);
	hugepage_tracker_inflate(&t, 0, HUGE, record, &c);
	cr_assert_eq(hits[0], 1);
	calls_reset(&c);
	hugepage_tracker_deflate(&t, 7 * PAGE, PAGE, record, &c);
	cr_assert_eq(hits[0], 1, "un-discarded once");
	cr_assert_eq(t.nr_discarded, 0);
	cr_assert_eq(t.nr_ballooned, SUB - 1);
	/* A second deflate of the same hugepage reports nothing. */
	calls_reset(&c);
	hugepage_tracker_deflate(&t, 8 * PAGE, PAGE, record, &c);
	cr_assert_eq(c.runs, 0);
	/* Refilled: discarded again (the guest's touch faulted a new one). */
	hugepage_tracker_inflate(&t, 7 * PAGE, 2 * PAGE, record, &c);
	cr_assert_eq(hits[0], 1);
	cr_assert_eq(t.nr_discarded, 1);
	hugepage_tracker_destroy(&t);
}

Test(hugepage_tracker, adjacent_full_hugepages_come_as_one_run)
{
	struct hugepage_tracker t;
	unsigned hits[4] = {0};
	struct calls c = {.nr_huge = 4, .hits = hits};
	cr_assert_eq(hugepage_tracker_init(&t, 4 * HUGE), 0);
	hugepage_tracker_inflate(&t, 0, 3 * HUGE, record, &c);
	cr_assert_eq(c.runs, 1);
	cr_assert_eq(c.last_end, 3 * HUGE);
	hugepage_tracker_destroy(&t);
}

Test(hugepage_tracker, rejects_bad_ranges_without_change)
{
	struct hugepage_tracker t;
	unsigned hits[2] = {0};
	struct calls c = {.nr_huge = 2, .hits = hits};
	cr_assert_eq(hugepage_tracker_init(&t, HUGE + PAGE), -EINVAL);
	cr_assert_eq(hugepage_tracker_init(&t, 0), -EINVAL);
	cr_assert_eq(hugepage_tracker_init(&t, 2 * HUGE), 0);
	cr_assert_eq(hugepage_tracker_inflate(&t, 100, PAGE, NULL, NULL), -EINVAL);
	cr_assert_eq(hugepage_tracker_inflate(&t, 0, 100, NULL, NULL), -EINVAL);
	cr_assert_eq(hugepage_tracker_inflate(&t, 0, 0, NULL, NULL), -EINVAL);
	cr_assert_eq(hugepage_tracker_inflate(&t, 2 * HUGE - PAGE, 2 * PAGE,
					      NULL, NULL), -EINVAL);
	cr_assert_eq(hugepage_tracker_deflate(&t, UINT64_MAX - PAGE + 1, PAGE,
					      NULL, NULL), -EINVAL);
	cr_assert_eq(t.nr_ballooned, 0);
	/* fn may be NULL. */
	cr_assert_eq(hugepage_tracker_inflate(&t, 0, 2 * HUGE, NULL, NULL), 0);
	cr_assert_eq(t.nr_discarded, 2);
	hugepage_tracker_clear(&t);
	cr_assert_eq(t.nr_discarded, 0);
	cr_assert_eq(t.nr_ballooned, 0);
	/* The clear emptied every hugepage: all 512 pages again fill one. */
	hugepage_tracker_inflate(&t, 0, HUGE - PAGE, record, &c);
	cr_assert_eq(c.runs, 0);
	cr_assert_eq(t.nr_ballooned, SUB - 1);
	hugepage_tracker_inflate(&t, HUGE - PAGE, PAGE, record, &c);
	cr_assert_eq(hits[0], 1);
	hugepage_tracker_destroy(&t);
}
