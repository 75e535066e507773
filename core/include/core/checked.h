/* Overflow-checked arithmetic for guest-derived values. */
#ifndef CORE_CHECKED_H
#define CORE_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

/* True when [start, start+len) does not wrap around 2^64. */
static inline bool range_ok(uint64_t start, uint64_t len)
{
	uint64_t end;
	return !__builtin_add_overflow(start, len, &end);
}

/* True when [a, a+alen) lies inside [b, b+blen); both must not wrap. */
static inline bool range_within(uint64_t a, uint64_t alen, uint64_t b,
				uint64_t blen)
{
	return range_ok(a, alen) && range_ok(b, blen) && a >= b &&
	       a + alen <= b + blen;
}

#define IS_POW2(x) ((x) != 0 && ((x) & ((x) - 1)) == 0)
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
