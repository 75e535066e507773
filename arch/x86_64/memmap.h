/* The guest's RAM map (memmap.c), private to the loaders: both boot formats
 * hand it to the kernel, bzImage as e820 entries, PVH as its memmap table. */
#ifndef X86_MEMMAP_H
#define X86_MEMMAP_H

#include <core/gmem.h>

#include <stdint.h>

struct x86_mem_entry {
	uint64_t addr, size;
	uint32_t type; /* E820_RAM / E820_RESERVED (same values as PVH's) */
};
#define X86_MEMMAP_MAX (GMEM_MAX_REGIONS + 2)

/* RAM map of mem: [0,EBDA) RAM, [EBDA,1MiB) reserved, [1MiB,..) RAM, then each
 * further region. Returns the count, or -EINVAL when RAM does not start at 0
 * and reach past 1 MiB. */
int x86_memmap(const struct gmem *mem, struct x86_mem_entry *map, unsigned max);
/* End of the RAM region starting at gpa 0, or 0 if there is none. */
uint64_t x86_low_ram_end(const struct gmem *mem);

#endif
