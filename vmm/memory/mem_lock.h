/* machine-config mvmm_mem_lock: guest RAM locked with mlock after it is
 * mapped, and the struct mem_pin the balloon uses to unlock what it gives
 * back and lock it again on deflate. Threads: main loop. */
#ifndef VMM_MEM_LOCK_H
#define VMM_MEM_LOCK_H

#include <core/gmem.h>
#include <core/mem_pin.h>

#include <stddef.h>

/* Locks (and so populates) every region. 0, or -errno with err naming the
 * field, the size and RLIMIT_MEMLOCK. */
int mem_lock_all(const struct gmem *mem, char *err, size_t errlen);
/* The pin interface over mlock/munlock; be is unused. */
extern const struct mem_pin_ops mem_lock_pin_ops;

#endif
