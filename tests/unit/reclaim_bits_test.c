/* Which hinted pages a reclaim discards. */
#include "reclaim/reclaim_bits.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(reclaim_bits);

Test(reclaim_bits, only_hinted_clean_pages_not_device_written_remain)
{
	uint64_t h[2] = {0xffULL, 1ULL << 3}; /* pages 0-7 and 67 */
	uint64_t d[2] = {0x03ULL, 0};         /* 0, 1 written since start */
	uint64_t v[2] = {0x80ULL, 0};         /* 7 holds a ring */
	struct reclaim_counts c = {0};
	reclaim_bits_select(h, d, v, 128, &c);
	cr_assert_eq(h[0], 0x7cULL);
	cr_assert_eq(h[1], 1ULL << 3);
	cr_assert_eq(c.hinted, 9);
	cr_assert_eq(c.dirty, 2);
	cr_assert_eq(c.device, 1);
	cr_assert_eq(c.discard, 6);
}

Test(reclaim_bits, bits_past_the_region_are_ignored)
{
	uint64_t h[1] = {~0ULL};
	struct reclaim_counts c = {0};
	reclaim_bits_select(h, NULL, NULL, 10, &c);
	cr_assert_eq(c.hinted, 10);
	cr_assert_eq(c.discard, 10);
	cr_assert_eq(h[0], 0x3ffULL);
}

Test(reclaim_bits, byte_ranges_mark_every_page_they_touch)
{
	uint64_t b[2] = {0};
	reclaim_bits_set_bytes(b, 100, 4095, 2);      /* pages 0 and 1 */
	reclaim_bits_set_bytes(b, 100, 70 * 4096, 1); /* page 70 */
	reclaim_bits_set_bytes(b, 100, 99 * 4096, 1 << 20); /* clipped */
	cr_assert_eq(b[0], 0x3ULL);
	cr_assert_eq(b[1], (1ULL << 6) | (1ULL << 35));
}

Test(reclaim_bits, runs_cover_exactly_the_set_bits)
{
	uint64_t b[3] = {0};
	/* 5-9, 60-130 (across two word boundaries), 191 (last page). */
	for (unsigned p = 5; p < 10; p++)
		b[p / 64] |= 1ULL << (p % 64);
	for (unsigned p = 60; p < 131; p++)
		b[p / 64] |= 1ULL << (p % 64);
	b[2] |= 1ULL << 63;
	uint64_t want[][2] = {{5, 5}, {60, 71}, {191, 1}};
	uint64_t pos = 0, first, n;
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(reclaim_bits_next_run(b, 192, &pos, &first, &n), 1);
		cr_assert_eq(first, want[i][0], "run %u", i);
		cr_assert_eq(n, want[i][1], "run %u", i);
	}
	cr_assert_eq(reclaim_bits_next_run(b, 192, &pos, &first, &n), 0);
	/* A run ending at nr_pages inside a word stops there. */
	uint64_t full[1] = {~0ULL};
	pos = 0;
	cr_assert_eq(reclaim_bits_next_run(full, 40, &pos, &first, &n), 1);
	cr_assert_eq(first, 0);
	cr_assert_eq(n, 40);
}
