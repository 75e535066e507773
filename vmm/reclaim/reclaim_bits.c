#include "reclaim/reclaim_bits.h"

#include <core/gmem.h>

static uint64_t popcount64(uint64_t v)
{
	return (uint64_t)__builtin_popcountll(v);
}

void reclaim_bits_select(uint64_t *hinted, const uint64_t *dirty,
			 const uint64_t *device, uint64_t nr_pages,
			 struct reclaim_counts *c)
{
	size_t words = (size_t)((nr_pages + 63) / 64);
	for (size_t i = 0; i < words; i++) {
		uint64_t h = hinted[i];
		if (i == words - 1 && nr_pages % 64)
			h &= (1ULL << (nr_pages % 64)) - 1;
		c->hinted += popcount64(h);
		uint64_t d = dirty ? h & dirty[i] : 0;
		c->dirty += popcount64(d);
		h &= ~d;
		uint64_t v = device ? h & device[i] : 0;
		c->device += popcount64(v);
		h &= ~v;
		c->discard += popcount64(h);
		hinted[i] = h;
	}
}

void reclaim_bits_set_bytes(uint64_t *bits, uint64_t nr_pages, uint64_t start,
			    uint64_t len)
{
	if (!len)
		return;
	uint64_t first = start / GMEM_PAGE_SIZE;
	uint64_t end = start + len < start ? UINT64_MAX : start + len;
	uint64_t last = (end - 1) / GMEM_PAGE_SIZE;
	for (uint64_t p = first; p <= last && p < nr_pages; p++)
		bits[p / 64] |= 1ULL << (p % 64);
}

int reclaim_bits_next_run(const uint64_t *bits, uint64_t nr_pages,
			  uint64_t *pos, uint64_t *first, uint64_t *n)
{
	uint64_t p = *pos;
	while (p < nr_pages) {
		uint64_t w = bits[p / 64] >> (p % 64);
		if (!w) {
			p = (p / 64 + 1) * 64;
			continue;
		}
		p += (uint64_t)__builtin_ctzll(w);
		break;
	}
	if (p >= nr_pages) {
		*pos = nr_pages;
		return 0;
	}
	uint64_t s = p;
	while (p < nr_pages) {
		uint64_t w = ~bits[p / 64] >> (p % 64);
		if (!w) { /* the rest of this word is set */
			p = (p / 64 + 1) * 64;
			continue;
		}
		p += (uint64_t)__builtin_ctzll(w);
		break;
	}
	if (p > nr_pages)
		p = nr_pages;
	*first = s;
	*n = p - s;
	*pos = p;
	return 1;
}
