#include "fakes/balloon_fixture.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fbd_bed *bed;
struct fbd *drv;

void balloon_fixture_teardown(void)
{
	fbd_bed_free(bed);
	bed = NULL;
}


const struct fbd_opts linux_opts = {.features = FBD_LINUX_FEATURES};

void up_with(const struct balloon_config *cfg,
		    const struct fbd_layout *layout, const struct fbd_opts *o)
{
	bed = fbd_bed_new(cfg, layout);
	cr_assert(bed);
	drv = &bed->drv;
	cr_assert_eq(fbd_probe(drv, &bed->tb->drv, o), 0);
}

void up(void)
{
	struct balloon_config cfg = {.amount_mib = 0};
	up_with(&cfg, NULL, &linux_opts);
}

struct balloon_metrics metrics(void)
{
	struct balloon_metrics m;
	balloon_get_metrics(&bed->b, &m);
	return m;
}

static int cmp_range(const void *a, const void *b)
{
	const struct recording_discard_range *x = a, *y = b;
	return (x->gpa > y->gpa) - (x->gpa < y->gpa);
}

void expect_ranges(const uint64_t (*want)[2], unsigned n)
{
	struct recording_discard *rd = &bed->rd;
	cr_assert_eq(rd->nr, n, "queued %u ranges, expected %u", rd->nr, n);
	struct recording_discard_range *got = malloc(n * sizeof(*got) + 1);
	memcpy(got, rd->ranges, n * sizeof(*got));
	qsort(got, n, sizeof(*got), cmp_range);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(got[i].gpa, want[i][0],
			     "range %u at 0x%llx, expected 0x%llx", i,
			     (unsigned long long)got[i].gpa,
			     (unsigned long long)want[i][0]);
		cr_assert_eq(got[i].len, want[i][1], "range %u len 0x%llx", i,
			     (unsigned long long)got[i].len);
		cr_assert_eq(got[i].gpa - got[i].region->gpa, got[i].offset);
	}
	free(got);
}

void reset_completing_discards(void)
{
	fbd_bed_reset_completing_discards(bed);
}
