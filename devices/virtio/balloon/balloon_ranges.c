/* Sorting and merging of validated guest ranges: coalescing is what makes
 * discard fast (one madvise per run instead of per page). */
#include "balloon_ranges.h"

#include <core/checked.h>

#include <stdlib.h>

static int range_cmp(const void *a, const void *b)
{
	const struct balloon_range *x = a, *y = b;
	return (x->gpa > y->gpa) - (x->gpa < y->gpa);
}

unsigned balloon_ranges_coalesce(struct balloon_range *r, unsigned n)
{
	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), range_cmp);
	unsigned out = 0;
	for (unsigned i = 1; i < n; i++) {
		struct balloon_range *cur = &r[out];
		uint64_t cur_end = cur->gpa + cur->len;
		/* Inputs lie inside one region each, so ends cannot wrap. */
		if (r[i].region == cur->region && r[i].gpa <= cur_end) {
			uint64_t end = MAX(cur_end, r[i].gpa + r[i].len);
			cur->len = end - cur->gpa;
			continue;
		}
		r[++out] = r[i];
	}
	return out + 1;
}

uint64_t balloon_ranges_bytes(const struct balloon_range *r, unsigned n)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++)
		sum += r[i].len;
	return sum;
}

const struct gmem_region *balloon_ranges_region_of(const struct gmem *mem,
						   uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa % GMEM_PAGE_SIZE || len % GMEM_PAGE_SIZE)
		return NULL;
	return gmem_region_of(mem, gpa, len);
}
