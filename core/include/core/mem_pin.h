/* Pinned guest memory (machine-config mvmm_mem_lock): how a device that
 * hands guest pages back to the host asks the VMM to unpin them first and
 * to pin them again before the guest may reuse them (seed 000). The VMM
 * implements it with munlock/mlock; devices see only this table.
 *
 * Both calls are synchronous: when pin() returns 0 the range is resident
 * and locked. Offsets are relative to the region start, page aligned.
 * Threads: main loop, or a transport callback holding the device's lock. */
#ifndef CORE_MEM_PIN_H
#define CORE_MEM_PIN_H

#include <stdint.h>

struct gmem_region;

struct mem_pin_ops {
	int (*pin)(void *be, const struct gmem_region *region, uint64_t offset,
		   uint64_t len);
	int (*unpin)(void *be, const struct gmem_region *region,
		     uint64_t offset, uint64_t len);
};

/* ops NULL: guest memory is not pinned. */
struct mem_pin {
	const struct mem_pin_ops *ops;
	void *be;
};

#endif
