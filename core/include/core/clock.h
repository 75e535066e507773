/* The one clock for intervals and timestamps inside mvmm: CLOCK_MONOTONIC,
 * which neither jumps with the wall clock nor stops counting. */
#ifndef CORE_CLOCK_H
#define CORE_CLOCK_H

#include <stdint.h>

uint64_t clock_now_ns(void);

static inline uint64_t clock_now_us(void)
{
	return clock_now_ns() / 1000;
}

#endif
