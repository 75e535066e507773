#include <arch/layout.h>

unsigned x86_ram_ranges(uint64_t mem_bytes, uint64_t ranges[2][2])
{
	if (mem_bytes == 0)
		return 0;
	if (mem_bytes <= X86_RAM_HOLE_START) {
		ranges[0][0] = 0;
		ranges[0][1] = mem_bytes;
		return 1;
	}
	ranges[0][0] = 0;
	ranges[0][1] = X86_RAM_HOLE_START;
	ranges[1][0] = X86_4GIB;
	ranges[1][1] = mem_bytes - X86_RAM_HOLE_START;
	return 2;
}
