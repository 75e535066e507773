/* Planning a batch: ops end on chunk boundaries in guest-physical terms, so
 * a run that covers whole 2 MiB pages never has an op end inside one. */
#include "memory/discard_batch.h"

#include <criterion/criterion.h>

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

TestSuite(discard_batch);

static struct discard_batch *plan(const struct gmem_region *r, uint64_t off,
				  uint64_t len, uint64_t chunk)
{
	struct discard_batch *b = NULL;
	struct discard_stats st = {0};
	cr_assert_eq(discard_batch_add(&b, r, off, len, (void *)1, &st), 0);
	cr_assert_eq(discard_batch_plan(b, chunk, &st), 0);
	return b;
}

static void expect_ops(const struct discard_batch *b, const uint64_t (*want)[2],
		       unsigned n)
{
	cr_assert_eq(b->nr_ops, n, "%u ops, want %u", b->nr_ops, n);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(b->ops[i].offset, want[i][0], "op %u offset 0x%llx",
			     i, (unsigned long long)b->ops[i].offset);
		cr_assert_eq(b->ops[i].len, want[i][1], "op %u len 0x%llx", i,
			     (unsigned long long)b->ops[i].len);
	}
}

Test(discard_batch, ops_end_on_chunk_boundaries_not_chunk_lengths)
{
	static uint8_t mem[4096];
	struct gmem_region r = {.gpa = 0, .len = 64 * MIB, .hva = mem,
				.backend = GMEM_ANON_PRIVATE};
	struct discard_batch *b = plan(&r, 1 * MIB, 36 * MIB, 16 * MIB);
	const uint64_t want[][2] = {
		{1 * MIB, 15 * MIB}, {16 * MIB, 16 * MIB}, {32 * MIB, 5 * MIB},
	};
	expect_ops(b, want, 3);
	discard_batch_free(b);
}

Test(discard_batch, boundaries_follow_the_gpa_of_a_high_region)
{
	static uint8_t mem[4096];
	/* A region at 4 GiB + 1 MiB: offset 1 MiB is gpa 4 GiB + 2 MiB. */
	struct gmem_region r = {.gpa = 4 * GIB + 1 * MIB, .len = 64 * MIB,
				.hva = mem, .backend = GMEM_ANON_PRIVATE};
	struct discard_batch *b = plan(&r, 0, 9 * MIB, 4 * MIB);
	const uint64_t want[][2] = {
		{0, 3 * MIB}, {3 * MIB, 4 * MIB}, {7 * MIB, 2 * MIB},
	};
	expect_ops(b, want, 3);
	discard_batch_free(b);
}

Test(discard_batch, an_aligned_run_splits_into_whole_chunks)
{
	static uint8_t mem[4096];
	struct gmem_region r = {.gpa = 0, .len = 64 * MIB, .hva = mem,
				.backend = GMEM_ANON_PRIVATE};
	struct discard_batch *b = plan(&r, 2 * MIB, 4 * MIB, 2 * MIB);
	const uint64_t want[][2] = {{2 * MIB, 2 * MIB}, {4 * MIB, 2 * MIB}};
	expect_ops(b, want, 2);
	discard_batch_free(b);
}
