/* The guest's RAM map, shared by the e820 table (zero page) and the PVH
 * memmap: legacy PCs keep [EBDA, 1 MiB) for the EBDA, VGA and BIOS, and our MP
 * table lives in the EBDA, so that range is reserved. */
#include "memmap.h"

#include <arch/layout.h>
#include <asm/e820.h>
#include <errno.h>

uint64_t x86_low_ram_end(const struct gmem *mem)
{
	for (unsigned i = 0; i < mem->nr_regions; i++)
		if (mem->regions[i].gpa == 0)
			return mem->regions[i].len;
	return 0;
}

int x86_memmap(const struct gmem *mem, struct x86_mem_entry *map, unsigned max)
{
	uint64_t low_end = x86_low_ram_end(mem);
	unsigned n = 0;

	if (low_end <= X86_HIGH_MEM_START || max < 3)
		return -EINVAL;
	map[n++] = (struct x86_mem_entry){ 0, X86_EBDA_START, E820_RAM };
	map[n++] = (struct x86_mem_entry){ X86_EBDA_START,
					   X86_HIGH_MEM_START - X86_EBDA_START,
					   E820_RESERVED };
	map[n++] = (struct x86_mem_entry){ X86_HIGH_MEM_START,
					   low_end - X86_HIGH_MEM_START,
					   E820_RAM };
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];
		if (r->gpa == 0)
			continue;
		if (n == max)
			return -E2BIG;
		map[n++] = (struct x86_mem_entry){ r->gpa, r->len, E820_RAM };
	}
	return (int)n;
}
